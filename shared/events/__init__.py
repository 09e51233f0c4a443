"""Event wire format (CloudEvents envelope) and the versioned payload contracts."""
