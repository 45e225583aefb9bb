"""Image datasets: sources on disk, readers, and the training sets built from them.

The public entry points are re-exported by ``nats.data.images``.
"""
