from hq.cli import main

main()
