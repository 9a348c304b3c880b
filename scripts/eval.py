"""Thin wrapper: `python scripts/eval.py ckpt_path=...` == `recon-eval ckpt_path=...`."""
from recon.eval import main

if __name__ == "__main__":
    main()
