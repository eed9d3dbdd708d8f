"""Privacy (C14): a customer's data exported (right of access) and erased (right to be forgotten)
from every table, index and bucket, each named with its erasure handler in ``registry``."""
