"""`python -m symdiff_tf.cli`: the `symdiff` command."""
import sys

from symdiff_tf.cli.main import main

sys.exit(main())
