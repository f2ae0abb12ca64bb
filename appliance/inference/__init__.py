"""On-device inference and screening indexes (LiteRT models, int8 face index, name and document indexes)."""
