"""8-bit post-training quantization (OpenVINO + NNCF) and its measurement.

ptq: torch -> openvino -> nncf.quantize (:class:`PTQConfig`); evaluate: accuracy, agreement, KL, size, speed;
plots: figures of a study (the study itself: :mod:`gsoc_helpers.study`);
tool (+ user_model, user_images, report): quantize your own classifier, ``gsoc-helpers quantize``.
"""
