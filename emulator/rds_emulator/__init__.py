"""An SSH server that behaves like a MikroTik RDS (RouterOS 7 with rose-storage)."""
