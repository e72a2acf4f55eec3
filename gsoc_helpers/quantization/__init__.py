"""Post-training quantization (OpenVINO + NNCF) at 8 bits and below, and its measurement.

ptq: torch -> openvino -> nncf.quantize (:class:`PTQConfig`); evaluate: accuracy, agreement, KL, size, speed;
plots: figures of a study (the study itself: :mod:`gsoc_helpers.study`);
below 8 bits: lowbit (NNCF's 4-bit call and the re-levelling it cannot express), ranges, lowbit_plots,
finetune (distillation fine-tuning on synthetic images); photos;
tool (+ user_model, user_images, report): quantize your own classifier, ``gsoc-helpers quantize``.
"""
