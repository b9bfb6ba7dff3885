import sys

from ops.prodcheck.run import main

sys.exit(main())
