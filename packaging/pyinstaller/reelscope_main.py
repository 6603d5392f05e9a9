"""The frozen app's entry script: what the `reelscope` gui-script runs (`ui.app:main`)."""

import sys

from ui.app import main

sys.exit(main())
