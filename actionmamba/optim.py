"""ActionFormer's optimiser grouping: weight decay on conv / linear weights only."""
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ConvLinearDecayConstructor(DefaultOptimWrapperConstructor):
    """Two groups: weights of nn.Conv1d / nn.Linear get the configured weight decay; everything else
    (biases, norms, layer scales, per-level scales, the mixers' A_log / D) gets none."""

    def __call__(self, model):
        model = getattr(model, "module", model)
        decay, no_decay = [], []
        for module in model.modules():
            for name, param in module.named_parameters(recurse=False):
                if param.requires_grad:
                    is_weight = name == "weight" and isinstance(module, (nn.Conv1d, nn.Linear))
                    (decay if is_weight else no_decay).append(param)
        optimizer = OPTIMIZERS.build(dict(self.optimizer_cfg, params=[
            dict(params=decay), dict(params=no_decay, weight_decay=0.0)]))
        return OPTIM_WRAPPERS.build(dict(dict(type="OptimWrapper"), **self.optim_wrapper_cfg),
                                    default_args=dict(optimizer=optimizer))
