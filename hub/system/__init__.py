"""The host around the hub: systemd notify, the status LED, host health, TLS certificates, mDNS discovery, logging."""
