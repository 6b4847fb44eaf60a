"""CSI driver for MikroTik ROSE Data Server (RDS) storage over NVMe/TCP."""

DRIVER_NAME = "rds.csi.srvlab.io"
__version__ = "0.1.0"
