"""The event bus: topology, delivery outcome policy, RabbitMQ and embedded transports."""
