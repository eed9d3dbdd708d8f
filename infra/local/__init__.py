"""The local stack: moto as the local AWS, resources from the same definitions as the cloud."""
