# Sourced by the scripts that install system packages or start services.
# as_root COMMAND...: run it as root, through sudo when this is not root.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "this needs root: $*; run the script as root, or install sudo" >&2
        exit 1
    fi
}
