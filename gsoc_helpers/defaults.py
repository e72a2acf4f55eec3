"""The project's shared defaults, one place each (importing this module costs nothing: no torch).

Calibration: :data:`CALIBRATION_SIZE` images (NNCF's own ``subset_size`` default, 300) and the seeds
:data:`SEEDS` of every quantization study. CIFAR-10 normalisation: two "std" triples exist in the field and
models must be fed the one they were trained with:

* :data:`CIFAR10_STD` (0.2470, 0.2435, 0.2616): the per-channel std of the 50,000 CIFAR-10 train images in [0,1],
  computed over all pixels. It is the default of ``gsoc-helpers quantize`` (:class:`gsoc_helpers.models.contract.InputContract`) for a user's
  own classifier, since it is the statistic most training code computes.
* :data:`CHENYAOFO_STD` (0.2023, 0.1994, 0.2010): the value in the widely copied pytorch-cifar training scripts
  (not the std over pixels); chenyaofo's pytorch-cifar-models were trained with it, so
  :mod:`gsoc_helpers.models.classifiers.chenyaofo` normalises with it inside the model.
Both share :data:`CIFAR10_MEAN`.
"""

from __future__ import annotations

CALIBRATION_SIZE = 300
SEEDS = (0, 1, 2)
HELD_OUT_SIZE = 500  # held-out images: accuracy-aware validation, `quantize`'s synthetic held-out set
BN_MATCHING_STEPS = 200  # Adam steps of the data-free bn-matching calibration source
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CHENYAOFO_STD = (0.2023, 0.1994, 0.2010)
IMAGE_SIZE = 32  # CIFAR-10 images are 32 x 32
VALUE_RANGE = (0.0, 1.0)  # classifier inputs before normalisation
TRUNCATION_PSI_RANGE = (0.0, 2.0)  # StyleGAN truncation psi accepted by sampling (1.0: none)
MAX_SEED = 2**32 - 1  # seeds are non-negative integers numpy's and torch's generators both take
# the judge of "does the image carry its class" (class accuracy beside FID/KID): independent of every generator's
# training, offline (data root), FP32; akamaster's own test top-1 93.62 %, 92.7 % on the data root's 1,017 exact
# test images (PROVENANCE.md)
JUDGE_CLASSIFIER = "akamaster_resnet56"
