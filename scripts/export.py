"""Thin wrapper: `python scripts/export.py ckpt_path=CKPT split=test` == `recon-export ckpt_path=CKPT split=test`."""
from recon.export.cli import main

if __name__ == "__main__":
    main()
