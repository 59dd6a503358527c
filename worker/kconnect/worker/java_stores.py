"""Java key and trust stores: moved to `kconnect.config.java_stores`, below the converters that
read the Schema Registry's stores too; this name stays for the worker's existing importers."""

from kconnect.config.java_stores import (
    Store,
    StoreError,
    is_encrypted_pem,
    is_pem,
    pem_certificate,
    read_store,
    split_pem,
)

__all__ = [
    "Store",
    "StoreError",
    "is_encrypted_pem",
    "is_pem",
    "pem_certificate",
    "read_store",
    "split_pem",
]
