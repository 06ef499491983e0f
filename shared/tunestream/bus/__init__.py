"""Kafka transport: the only package that imports aiokafka."""
