"""Light registration module: config schema and plugin spec (no torch, no model code)."""

from dataclasses import dataclass, field

import vlarl

LLAMA_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class OpenVLAOFTConfig:
    """Config of the ``openvla_oft`` policy (YAML section ``policy``)."""

    preset: str = "tiny"  # "tiny" (random init, CPU) or "7b" (real sizes); ignored when `checkpoint` is set
    checkpoint: str | None = None  # official OpenVLA / OpenVLA-OFT Hugging Face checkpoint directory
    vlarl_checkpoint: str | None = None  # a directory written by OpenVLAOFTPolicy.save_checkpoint
    unnorm_key: str | None = None  # entry of dataset_statistics.json used to un-normalize actions
    action_head: str = "discrete"  # "discrete" (256 action-token bins, RL default) or "l1" (official L1 MLP head)
    action_chunk: int = 8  # C
    action_dim: int | None = None  # A; default: the env's action dim
    num_images: int = 2  # main camera + wrist cameras fed to the model
    use_proprio: bool = True  # proprioception through the proprio projector (needs `states`)
    proprio_dim: int | None = None  # default: the env's state width
    center_crop: bool = False  # official eval-time center crop (area 0.9, back to the model size)
    resize_method: str = "jpeg_lanczos"  # images not of the model size: official JPEG + lanczos3; "lanczos" / "bicubic"
    attention: str = "full_bidirectional"  # official (all positions see each other); "action_bidirectional" / "causal"
    greedy_vocab: str = "full"  # deterministic act: argmax over the whole vocabulary (official) or "action" (256 ids)
    clip_normalized_actions: bool = False  # clip to [-1, 1] before un-normalizing (official: no clip)
    logprob_type: str = "token"  # "token" [N,C,A], "action" [N,C] or "chunk" [N]
    value_type: str = "chunk"  # "chunk" [N] or "action" [N,C]
    value_head: bool = True
    temperature: float = 1.0
    top_k: int = 0  # 0 = no top-k filtering
    std_init: float = 0.1  # L1 head: std of the Gaussian around its output (normalized units)
    learnable_std: bool = True
    gripper_postprocess: str = "none"  # "openvla": gripper [0,1] -> [-1,1], binarized, open_positive
    image_aug: bool = False  # SFT only: the official train-time augmentation (finetune.py --image_aug; crop 0.9, color)
    # LoRA: the defaults are finetune.py's LoraConfig (the official fine-tuning is LoRA-only: set use_lora for SFT)
    use_lora: bool = False
    lora_rank: int = 32
    lora_alpha: int | None = None  # None: min(lora_rank, 16), as finetune.py
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(default_factory=lambda: ["all-linear"])  # or e.g. LLAMA_LINEAR
    lora_init: str = "gaussian"  # peft init_lora_weights: "gaussian" (finetune.py) or "default" (kaiming-uniform A)
    freeze_backbone: bool = False  # without LoRA: train only the heads when true
    dtype: str = "float32"  # "float32" | "bfloat16" | "float16"
    device: str = "cpu"
    seed: int = 0


@vlarl.hookimpl
def vlarl_register() -> list:
    return [
        vlarl.PluginSpec(
            kind="policy",
            name="openvla_oft",
            factory="vlarl_openvla_oft.policy:make",
            description="OpenVLA-OFT: DINOv2+SigLIP -> Llama-2 with parallel decoding of action chunks "
            "(discrete action tokens or L1 head), value head, LoRA; loads official checkpoints.",
            config=OpenVLAOFTConfig,
            requirements=(
                vlarl.Requirement(kind="python", name="torch", fix="pip install vlarl-openvla-oft"),
                vlarl.Requirement(kind="python", name="transformers", fix="pip install vlarl-openvla-oft"),
                vlarl.Requirement(kind="python", name="peft", fix="pip install vlarl-openvla-oft"),
                vlarl.Requirement(kind="python", name="safetensors", fix="pip install vlarl-openvla-oft"),
            ),
        )
    ]
