"""Training building blocks: dataset preparation, the pair dataset, VGG19 and the losses.

Modules (one job each):

``store``    the on-disk format of a prepared dataset (manifest, per-clip geometry).
``prepare``  turning videos / frame folders into a prepared dataset.
``dataset``  self-supervised (source, driver) pairs from a prepared dataset.
``vgg``      a hand-written VGG19 that loads torchvision-format weights.
``losses``   the paper's losses (eq. 4-8) as small functions.

Import the submodules directly; this package imports nothing heavy.
"""
