import sys

from mbrl_jax.cli import main

sys.exit(main())
