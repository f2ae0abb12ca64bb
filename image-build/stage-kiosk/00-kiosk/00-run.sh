#!/bin/bash -e
# Installs the kiosk into the image. Runs on the build machine with the image's root in
# ROOTFS_DIR; commands that must run inside the image go through on_chroot.

shopt -s nullglob
wheels=(files/border_kiosk-*.whl)
if [ "${#wheels[@]}" -ne 1 ]; then
	echo "stage-kiosk: need exactly one border_kiosk-*.whl in $(pwd)/files, found ${#wheels[@]}" >&2
	exit 1
fi
units=(kiosk.service kiosk-browser.service kiosk-firstboot.service)
for unit in "${units[@]}"; do
	if [ ! -f "files/${unit}" ]; then
		echo "stage-kiosk: files/${unit} is missing (copy it from the repository's systemd/)" >&2
		exit 1
	fi
done

# A fresh dist/ so a CONTINUE=1 rebuild never installs an older wheel left behind.
rm -rf "${ROOTFS_DIR}/opt/kiosk/dist"
install -d -m 0755 "${ROOTFS_DIR}/opt/kiosk/dist"
install -m 0644 "${wheels[0]}" "${ROOTFS_DIR}/opt/kiosk/dist/"
for unit in "${units[@]}"; do
	install -m 0644 "files/${unit}" "${ROOTFS_DIR}/etc/systemd/system/${unit}"
done

# kiosk-browser.service opens a logind session through this PAM service, which gives
# cage the seat's display and input devices. systemd never asks for a password here.
cat > "${ROOTFS_DIR}/etc/pam.d/kiosk-browser" <<'EOF'
auth     required pam_unix.so nullok
account  required pam_unix.so
session  required pam_unix.so
session  required pam_systemd.so
EOF

on_chroot <<'EOF'
set -e
for group in dialout gpio video i2c render input; do
	groupadd -f -r "$group"
done
if ! id -u kiosk >/dev/null 2>&1; then
	useradd --system --user-group --home-dir /var/lib/kiosk --no-create-home \
		--shell /usr/sbin/nologin kiosk
fi
usermod -a -G dialout,gpio,video,i2c kiosk
# The browser runs as its own user so it cannot read the kiosk's database.
if ! id -u kiosk-ui >/dev/null 2>&1; then
	useradd --system --user-group --create-home --home-dir /var/lib/kiosk-ui \
		--shell /usr/sbin/nologin kiosk-ui
fi
usermod -a -G video,render,input kiosk-ui

# Config is readable by the kiosk, writable only by root (the technician, via sudo).
install -d -o root -g kiosk -m 0750 /etc/kiosk
install -d -o kiosk -g kiosk -m 0750 /var/lib/kiosk

# --system-site-packages: picamera2 needs the libcamera bindings that only exist as
# Raspberry Pi OS packages; the apt-installed python3-picamera2, -systemd and -lgpio
# then also satisfy the [pi] extra, so pip builds nothing from source.
python3 -m venv --system-site-packages /opt/kiosk/venv
/opt/kiosk/venv/bin/pip install --no-cache-dir "$(ls /opt/kiosk/dist/border_kiosk-*.whl)[pi]"

systemctl enable kiosk-firstboot.service kiosk.service kiosk-browser.service
systemctl set-default graphical.target
EOF
