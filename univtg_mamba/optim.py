"""The suite's UniVTG optimiser grouping (main/config.py make_optimizer): no weight decay on biases and on the
Mamba mixers' A_log / D (and their backward-direction A_b_log / D_b); every other parameter decays."""
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

NO_DECAY_SUFFIXES = ("bias", "A_log", "D", "A_b_log", "D_b")


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class NoDecayBiasSSMConstructor(DefaultOptimWrapperConstructor):
    def __call__(self, model):
        model = getattr(model, "module", model)
        decay, no_decay = [], []
        for name, param in model.named_parameters():
            if param.requires_grad:
                (no_decay if name.rsplit(".", 1)[-1].endswith(NO_DECAY_SUFFIXES) else decay).append(param)
        optimizer = OPTIMIZERS.build(dict(self.optimizer_cfg, params=[
            dict(params=decay), dict(params=no_decay, weight_decay=0.0)]))
        return OPTIM_WRAPPERS.build(dict(dict(type="OptimWrapper"), **self.optim_wrapper_cfg),
                                    default_args=dict(optimizer=optimizer))
