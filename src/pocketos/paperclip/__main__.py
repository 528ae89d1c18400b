"""``python -m pocketos.paperclip``: run one Paperclip heartbeat (see runner.py)."""

from __future__ import annotations

import sys

from pocketos.paperclip.runner import main

if __name__ == "__main__":
    sys.exit(main())
