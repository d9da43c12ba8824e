"""imgen: the helper package of the course "Making images with convolutional neural networks".

Importing it only defines things: no downloads, no seeding, no printing.
"""

__version__ = "0.1.0"
