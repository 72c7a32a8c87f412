"""The release of this backend: the one place it is written (/healthz shows it, the container
image is labelled with it, `python main.py --version` prints it). Bump it with each release."""
__version__ = "1.19.0"
