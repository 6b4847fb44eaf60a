"""``python -m rds_csi`` runs the driver like the ``rds-csi-driver`` console script."""

from rds_csi.main import main

raise SystemExit(main())
