"""Thin wrapper: `python scripts/train.py experiment=quickstart` == `recon-train experiment=quickstart`."""
from recon.train import main

if __name__ == "__main__":
    main()
