"""The gateway: `python -m gateway` (configuration: docs/configuration.md, docs/gateway.md)."""

from gateway.server import main

if __name__ == "__main__":
    main()
