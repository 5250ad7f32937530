"""Production settings with the collected static files in the bench's scratch folder.

`DEBUG=0` serves static files through WhiteNoise's manifest storage, which needs
`collectstatic`; the bench collects into its own folder, not the work tree's
`staticfiles/`.
"""

import os
from pathlib import Path

from chatsite.settings import *  # noqa: F403

STATIC_ROOT = Path(os.environ["BENCH_STATIC_ROOT"])
