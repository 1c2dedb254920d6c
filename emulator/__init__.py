"""An HTTPS emulator of the Azure Resource Manager operations and the Entra ID token endpoint that the
portal uses, so the real azure-identity and azure-mgmt-* clients run against it unchanged.

Run it with `python -m emulator --preset demo`, or in-process with `emulator.server.EmulatorServer`.
"""
