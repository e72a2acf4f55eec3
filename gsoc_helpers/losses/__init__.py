"""GAN losses: hinge losses (:mod:`.adversarial`) and the distillation losses of DiStyleGAN (:mod:`.distillation`)."""
