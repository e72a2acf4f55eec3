"""Post-training quantization (OpenVINO + NNCF) at 8 bits and below, and its measurement.

INT8: ptq (torch -> OpenVINO -> ``nncf.quantize``, :class:`PTQConfig`), accuracy (accuracy-aware PTQ), evaluate
(accuracy, agreement, KL, size, speed), runner (the resumable study grid, mean ± std tables), plots and conclusions;
below 8 bits: lowbit (re-levelled models), ranges (range estimators), lowbit_study, lowbit_plots, finetune
(distillation fine-tuning on synthetic images); any model: any_model (any input size and class count), photos;
your own classifier: tool (+ user_model, user_images, report, settings), ``gsoc-helpers quantize``;
reproduce2022: the 2022 original's grid.
"""
