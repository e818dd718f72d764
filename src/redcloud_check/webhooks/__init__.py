"""Receiving the lifecycle: the signed-webhook listener, the tunnel that exposes it, the number
override that points the API at it, the session that ties them together, and the lifecycle
verdict drawn from what arrived."""
