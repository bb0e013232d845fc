"""Channel adapters: each translates one protocol to and from the gateway's types."""
