"""The zoo: real architectures as their users call them, built from ``transformers`` configs.

Every factory returns a :class:`trtready.ModelSpec` for a tiny model (2 layers or stages, hidden 32, at
most 4 heads, a vocabulary of 128) with random weights seeded by ``torch.manual_seed``: nothing is downloaded, no tokenizer
or hub file is read. Each is usable on the command line as ``tests.zoo.models:NAME``.

How the models are called is the point of the zoo:

- text models take keyword inputs (``input_ids=``, ``attention_mask=``), the way ``model(**batch)`` passes
  a tokenizer's output; the mask is right-padded as tokenizers pad, with at least one kept token per row;
- examples are batch 2 × sequence 16, exported with dynamic batch ``[1:4]`` × sequence ``[2:32]`` named by
  the forward's parameter names; vision and audio models get a dynamic batch only (their spatial size
  and Whisper's frame count are fixed by the architecture);
- audio encoders take ``input_values`` (a waveform, zero past each clip's end) and a right-padded
  ``attention_mask`` over samples, as a feature extractor with padding returns them;
- decoders are built with ``use_cache=False``: with a cache, ``forward`` returns a ``DynamicCache``, which
  is not registered as a pytree node, so ``torch.export`` cannot take it as an output;
- vision models come from ``transformers`` too (ViT, DeiT, DINOv2, BEiT, Swin, SegFormer, ConvNeXt, ResNet,
  RegNet, MobileNetV2, EfficientNet): timm imports torchvision, whose PyPI wheel does not load beside the
  pinned ``torch==2.13.0+cpu``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from trtready import ModelSpec

BATCH, SEQ = 2, 16
BATCH_DIM = "batch[1:4]"
SEQ_DIM = "seq[2:32]"
MAX_POS = 64      # ≥ the largest sequence the dynamic bounds allow
VOCAB = 128
LENGTHS = (SEQ, 11)  # kept tokens per row: row 0 full, row 1 right-padded


FIRST_TOKEN = 3  # ids below are special (pad, bos, eos in the configs below); text tokens start here


def _text_inputs(pad_id: int, vocab: int = VOCAB) -> dict[str, torch.Tensor]:
    """``input_ids`` and a right-padded ``attention_mask`` (1 = kept), as a tokenizer with padding returns them.

    Padded positions hold the model's pad id: RoBERTa and BART number positions by counting the ids
    that are not padding, so another id there would be a different input than a tokenizer makes.
    """
    ids = torch.randint(FIRST_TOKEN, vocab, (BATCH, SEQ))
    mask = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    for row, n in enumerate(LENGTHS):
        mask[row, :n] = 1
    return {"input_ids": ids.masked_fill(mask == 0, pad_id), "attention_mask": mask}


def _text_dynamic(*names: str) -> list[str]:
    return [f"{n}:0={BATCH_DIM},1={SEQ_DIM}" for n in names]


def _text(model: torch.nn.Module) -> ModelSpec:
    kwargs = _text_inputs(model.config.pad_token_id)
    return ModelSpec(model.eval(), (), kwargs=kwargs, dynamic=_text_dynamic(*kwargs))


def _trained_like(model: torch.nn.Module) -> torch.nn.Module:
    """PyTorch's default initialisation and BatchNorm statistics as a trained checkpoint has them.

    transformers initialises these convolutional nets for training from scratch (normal, std 0.02;
    BatchNorm at identity); through MobileNetV2's and EfficientNet's depth the activations then vanish
    (outputs ~1e-26 and 0.0), and a comparison of zeros proves nothing.
    """
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            m.reset_parameters()
        elif isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.8, 1.2)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def _vision(model: torch.nn.Module, channels: int = 3, size: int = 32) -> ModelSpec:
    pixels = torch.randn(BATCH, channels, size, size)
    return ModelSpec(model.eval(), (), kwargs={"pixel_values": pixels}, dynamic=[f"pixel_values:0={BATCH_DIM}"])


SAMPLES = 1600                      # a 0.1 s clip at 16 kHz
AUDIO_LENGTHS = (SAMPLES, 1100)     # samples kept per row: row 0 full, row 1 right-padded
SAMPLES_DIM = "samples[800:3200]"  # clips of 0.05 to 0.2 s


def _audio(model: torch.nn.Module) -> ModelSpec:
    """A waveform batch and its sample mask, as a feature extractor pads them (zeros past each clip's end)."""
    mask = torch.zeros(BATCH, SAMPLES, dtype=torch.int64)
    for row, n in enumerate(AUDIO_LENGTHS):
        mask[row, :n] = 1
    values = torch.randn(BATCH, SAMPLES) * mask
    return ModelSpec(model.eval(), (), kwargs={"input_values": values, "attention_mask": mask},
                     dynamic=[f"{n}:0={BATCH_DIM},1={SAMPLES_DIM}" for n in ("input_values", "attention_mask")])


# Sizes shared by the text models (each config takes the ones it knows under its own names).
_BERTISH = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=64, max_position_embeddings=MAX_POS, pad_token_id=0)
_DECODER = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, intermediate_size=64, max_position_embeddings=MAX_POS,
                pad_token_id=0, use_cache=False)


# --- encoders ---------------------------------------------------------------------------------------

def bert() -> ModelSpec:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    return _text(BertModel(BertConfig(**_BERTISH)))


def roberta() -> ModelSpec:
    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(0)
    # RoBERTa numbers positions from pad_token_id + 1: the table needs MAX_POS + 2 rows.
    cfg = RobertaConfig(**{**_BERTISH, "max_position_embeddings": MAX_POS + 2, "pad_token_id": 1})
    return _text(RobertaModel(cfg))


def distilbert() -> ModelSpec:
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(0)
    cfg = DistilBertConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                           max_position_embeddings=MAX_POS, pad_token_id=0)
    return _text(DistilBertModel(cfg))


def albert() -> ModelSpec:
    from transformers import AlbertConfig, AlbertModel

    torch.manual_seed(0)
    cfg = AlbertConfig(**_BERTISH, embedding_size=16)
    return _text(AlbertModel(cfg))


def electra() -> ModelSpec:
    from transformers import ElectraConfig, ElectraModel

    torch.manual_seed(0)
    cfg = ElectraConfig(**_BERTISH, embedding_size=16)
    return _text(ElectraModel(cfg))


def deberta_v2() -> ModelSpec:
    from transformers import DebertaV2Config, DebertaV2Model

    torch.manual_seed(0)
    # DeBERTa-v3's settings: relative attention with log buckets, content↔position attention.
    cfg = DebertaV2Config(**_BERTISH, relative_attention=True, position_buckets=16, max_relative_positions=-1,
                          pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm", share_att_key=True,
                          position_biased_input=False, type_vocab_size=0)
    return _text(DebertaV2Model(cfg))


def clip_text() -> ModelSpec:
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    # eos_token_id 2 is the original CLIP checkpoints' config: the pooled output is read at
    # input_ids.argmax(-1) (the end-of-text token has the highest id in the real vocabulary).
    cfg = CLIPTextConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=MAX_POS, pad_token_id=1,
                         bos_token_id=0, eos_token_id=2)
    return _text(CLIPTextModel(cfg))


def xlm_roberta() -> ModelSpec:
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    cfg = XLMRobertaConfig(**{**_BERTISH, "max_position_embeddings": MAX_POS + 2, "pad_token_id": 1})
    return _text(XLMRobertaModel(cfg))


def mpnet() -> ModelSpec:
    from transformers import MPNetConfig, MPNetModel

    torch.manual_seed(0)
    # Relative position buckets with the default 32 buckets (transformers' bucket function does not read
    # the config's count), positions numbered from pad_token_id + 1 as in RoBERTa.
    cfg = MPNetConfig(**{**_BERTISH, "max_position_embeddings": MAX_POS + 2, "pad_token_id": 1})
    return _text(MPNetModel(cfg))


# --- decoders (use_cache=False: see the module docstring) -------------------------------------------

def opt() -> ModelSpec:
    from transformers import OPTConfig, OPTForCausalLM

    torch.manual_seed(0)
    # OPT numbers positions as cumsum(attention_mask) * attention_mask - 1, offset by 2 into its table.
    cfg = OPTConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4,
                    max_position_embeddings=MAX_POS, word_embed_proj_dim=32, pad_token_id=1, bos_token_id=2,
                    eos_token_id=2, use_cache=False)
    return _text(OPTForCausalLM(cfg))


def mixtral() -> ModelSpec:
    """transformers' default experts implementation calls its own op ``transformers::grouped_mm_fallback``,
    which has no ONNX function: convert exports it through the op's exact decomposition
    (trtready.export.paths, ``dynamo+decompose:…``)."""
    from transformers import MixtralConfig, MixtralForCausalLM

    torch.manual_seed(0)
    # A mixture-of-experts router: TopK over 4 experts, 2 per token.
    cfg = MixtralConfig(**_DECODER, num_local_experts=4, num_experts_per_tok=2, sliding_window=None)
    return _text(MixtralForCausalLM(cfg))


def gpt2() -> ModelSpec:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, n_inner=64, n_positions=MAX_POS,
                     pad_token_id=0, bos_token_id=1, eos_token_id=2, use_cache=False)
    return _text(GPT2LMHeadModel(cfg))


def llama() -> ModelSpec:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return _text(LlamaForCausalLM(LlamaConfig(**_DECODER)))


def qwen2() -> ModelSpec:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    return _text(Qwen2ForCausalLM(Qwen2Config(**_DECODER)))


def mistral() -> ModelSpec:
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    return _text(MistralForCausalLM(MistralConfig(**_DECODER, sliding_window=None)))


def phi() -> ModelSpec:
    from transformers import PhiConfig, PhiForCausalLM

    torch.manual_seed(0)
    return _text(PhiForCausalLM(PhiConfig(**_DECODER, partial_rotary_factor=0.5)))


def gpt_neox() -> ModelSpec:
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch.manual_seed(0)
    cfg = GPTNeoXConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=MAX_POS, rotary_pct=0.5,
                        pad_token_id=0, use_cache=False)
    return _text(GPTNeoXForCausalLM(cfg))


def gemma() -> ModelSpec:
    from transformers import GemmaConfig, GemmaForCausalLM

    torch.manual_seed(0)
    return _text(GemmaForCausalLM(GemmaConfig(**_DECODER, head_dim=8)))


def qwen3() -> ModelSpec:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    return _text(Qwen3ForCausalLM(Qwen3Config(**_DECODER, head_dim=8)))


def bloom() -> ModelSpec:
    from transformers import BloomConfig, BloomForCausalLM

    torch.manual_seed(0)
    # ALiBi: the bias is slopes × ((cumsum(mask) - 1) * mask), computed from the padding mask.
    cfg = BloomConfig(vocab_size=VOCAB, hidden_size=32, n_layer=2, n_head=4, pad_token_id=0, bos_token_id=1,
                      eos_token_id=2, use_cache=False)
    return _text(BloomForCausalLM(cfg))


def mpt() -> ModelSpec:
    from transformers import MptConfig, MptForCausalLM

    torch.manual_seed(0)
    # ALiBi from a fixed arange over the sequence, not from the mask.
    cfg = MptConfig(vocab_size=VOCAB, d_model=32, n_layers=2, n_heads=4, max_seq_len=MAX_POS, pad_token_id=0,
                    use_cache=False)
    return _text(MptForCausalLM(cfg))


def falcon_alibi() -> ModelSpec:
    from transformers import FalconConfig, FalconForCausalLM

    torch.manual_seed(0)
    # Falcon's ALiBi variant builds its bias in bfloat16, for which ONNX Runtime's CPU provider has no Mul:
    # verification runs that Mul in float32 (a float32 island) and says so.
    cfg = FalconConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, alibi=True,
                       new_decoder_architecture=False, multi_query=False, parallel_attn=False, bias=True,
                       pad_token_id=0, use_cache=False)
    return _text(FalconForCausalLM(cfg))


# --- encoder-decoder pieces -------------------------------------------------------------------------

def t5_encoder() -> ModelSpec:
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    cfg = T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                   relative_attention_num_buckets=8, relative_attention_max_distance=32,
                   pad_token_id=0, use_cache=False)
    return _text(T5EncoderModel(cfg))


def bart_encoder() -> ModelSpec:
    from transformers import BartConfig, BartModel

    torch.manual_seed(0)
    cfg = BartConfig(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
                     encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                     decoder_ffn_dim=64, max_position_embeddings=MAX_POS, pad_token_id=1,
                     bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, use_cache=False)
    # What an encoder-decoder deployment exports first: the encoder, called by itself.
    return _text(BartModel(cfg).get_encoder())


def whisper_encoder() -> ModelSpec:
    from transformers import WhisperConfig, WhisperModel

    torch.manual_seed(0)
    cfg = WhisperConfig(vocab_size=VOCAB, num_mel_bins=16, d_model=32, encoder_layers=2, decoder_layers=2,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, max_source_positions=16, max_target_positions=MAX_POS,
                        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
                        use_cache=False)
    encoder = WhisperModel(cfg).get_encoder().eval()
    # The encoder checks that it gets exactly 2 × max_source_positions frames (a 30 s window in the
    # real model): only the batch is dynamic.
    features = torch.randn(BATCH, cfg.num_mel_bins, 2 * cfg.max_source_positions)
    return ModelSpec(encoder, (), kwargs={"input_features": features}, dynamic=[f"input_features:0={BATCH_DIM}"])


# --- audio ------------------------------------------------------------------------------------------

# A two-layer convolutional feature extractor (stride 10 overall) and a 2-layer transformer.
_WAV2VEC2ISH = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3),
                    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, feat_extract_norm="layer",
                    do_stable_layer_norm=True, mask_time_prob=0.0)


def wav2vec2() -> ModelSpec:
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    # The mask's per-row length goes through the feature extractor's length formula, and padded frames are
    # zeroed by boolean-mask assignment (hidden[~mask] = 0).
    return _audio(Wav2Vec2Model(Wav2Vec2Config(**_WAV2VEC2ISH)))


def hubert() -> ModelSpec:
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    return _audio(HubertModel(HubertConfig(**_WAV2VEC2ISH)))


# --- vision (transformers classes; timm cannot load here, see the module docstring) -------------------

def vit() -> ModelSpec:
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    cfg = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                    num_attention_heads=2, intermediate_size=64)
    return _vision(ViTModel(cfg))


def deit() -> ModelSpec:
    from transformers import DeiTConfig, DeiTModel

    torch.manual_seed(0)
    cfg = DeiTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64)
    return _vision(DeiTModel(cfg))


def dinov2() -> ModelSpec:
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    cfg = Dinov2Config(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, mlp_ratio=2)
    return _vision(Dinov2Model(cfg))


def segformer() -> ModelSpec:
    from transformers import SegformerConfig, SegformerModel

    torch.manual_seed(0)
    cfg = SegformerConfig(num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
                          hidden_sizes=[16, 32], patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2],
                          mlp_ratios=[2, 2])
    return _vision(SegformerModel(cfg))


def regnet() -> ModelSpec:
    from transformers import RegNetConfig, RegNetModel

    torch.manual_seed(0)
    cfg = RegNetConfig(num_channels=3, embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], groups_width=8)
    return _vision(_trained_like(RegNetModel(cfg)))


def swin() -> ModelSpec:
    from transformers import SwinConfig, SwinModel

    torch.manual_seed(0)
    cfg = SwinConfig(image_size=32, patch_size=2, num_channels=3, embed_dim=16, depths=[1, 1],
                     num_heads=[2, 2], window_size=4, mlp_ratio=2.0)
    return _vision(SwinModel(cfg))


def beit() -> ModelSpec:
    from transformers import BeitConfig, BeitModel

    torch.manual_seed(0)
    # Relative position bias per layer: an index built with meshgrid/stack and in-place writes.
    cfg = BeitConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, use_relative_position_bias=True,
                     use_mask_token=False)
    return _vision(BeitModel(cfg))


def convnext() -> ModelSpec:
    from transformers import ConvNextConfig, ConvNextModel

    torch.manual_seed(0)
    cfg = ConvNextConfig(num_channels=3, patch_size=4, num_stages=2, hidden_sizes=[16, 32], depths=[1, 1],
                         image_size=32)
    return _vision(ConvNextModel(cfg))


def resnet() -> ModelSpec:
    from transformers import ResNetConfig, ResNetModel

    torch.manual_seed(0)
    cfg = ResNetConfig(num_channels=3, embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1],
                       layer_type="basic")
    return _vision(_trained_like(ResNetModel(cfg)))


def mobilenet_v2() -> ModelSpec:
    from transformers import MobileNetV2Config, MobileNetV2Model

    torch.manual_seed(0)
    cfg = MobileNetV2Config(num_channels=3, image_size=32, depth_multiplier=0.25, min_depth=8,
                            finegrained_output=False)  # the top conv scales too: 320 channels, not 1280
    return _vision(_trained_like(MobileNetV2Model(cfg)))


def efficientnet() -> ModelSpec:
    from transformers import EfficientNetConfig, EfficientNetModel

    torch.manual_seed(0)
    cfg = EfficientNetConfig(num_channels=3, image_size=32, width_coefficient=0.25, depth_coefficient=0.25,
                             hidden_dim=320)  # the top conv's width: round_filters(1280 × 0.25)
    return _vision(_trained_like(EfficientNetModel(cfg)))


Factory = Callable[[], ModelSpec]

#: name → (factory, family, notes). Names are the factory names: ``tests.zoo.models:NAME``.
ZOO: dict[str, tuple[Factory, str, str]] = {
    "bert": (bert, "encoder", "BertModel; absolute positions from a shared arange buffer, token_type_ids buffer"),
    "roberta": (roberta, "encoder", "RobertaModel; positions from cumsum(input_ids != pad), token_type_ids buffer read via .to()"),
    "distilbert": (distilbert, "encoder", "DistilBertModel; no token types"),
    "albert": (albert, "encoder", "AlbertModel; factorised embeddings, shared layers"),
    "electra": (electra, "encoder", "ElectraModel; embedding projection"),
    "deberta_v2": (deberta_v2, "encoder", "DebertaV2Model, v3 settings: log-bucketed relative positions, p2c/c2p attention"),
    "clip_text": (clip_text, "encoder", "CLIPTextModel; input_ids index the embedding and pick the pooled token by argmax"),
    "xlm_roberta": (xlm_roberta, "encoder", "XLMRobertaModel; positions from cumsum(input_ids != pad), offset pad + 1"),
    "mpnet": (mpnet, "encoder", "MPNetModel; log-bucketed relative positions (32 buckets)"),
    "opt": (opt, "decoder", "OPTForCausalLM; positions cumsum(mask) * mask - 1, offset 2"),
    "gpt2": (gpt2, "decoder", "GPT2LMHeadModel; causal mask combined with the padding mask"),
    "llama": (llama, "decoder", "LlamaForCausalLM; RoPE, grouped-query attention (4 heads, 2 kv)"),
    "qwen2": (qwen2, "decoder", "Qwen2ForCausalLM; RoPE, GQA, q/k/v biases"),
    "mistral": (mistral, "decoder", "MistralForCausalLM; RoPE, GQA, no sliding window"),
    "phi": (phi, "decoder", "PhiForCausalLM; partial rotary (0.5), parallel attention/MLP"),
    "gpt_neox": (gpt_neox, "decoder", "GPTNeoXForCausalLM; partial rotary (0.5)"),
    "gemma": (gemma, "decoder", "GemmaForCausalLM; RoPE, GQA, head_dim 8, scaled embeddings"),
    "qwen3": (qwen3, "decoder", "Qwen3ForCausalLM; RoPE, GQA, q/k RMSNorm"),
    "bloom": (bloom, "decoder", "BloomForCausalLM; ALiBi from (cumsum(mask) - 1) * mask"),
    "mpt": (mpt, "decoder", "MptForCausalLM; ALiBi over a fixed arange"),
    "falcon_alibi": (falcon_alibi, "decoder", "FalconForCausalLM, alibi=True; the bias built in bfloat16"),
    "mixtral": (mixtral, "decoder", "MixtralForCausalLM; mixture of experts (TopK 2 of 4), grouped_mm_fallback"),
    "t5_encoder": (t5_encoder, "encoder-decoder", "T5EncoderModel; bucketed relative position bias"),
    "bart_encoder": (bart_encoder, "encoder-decoder", "BartModel(...).get_encoder(); learned positions with offset 2"),
    "whisper_encoder": (whisper_encoder, "encoder-decoder", "WhisperModel(...).get_encoder(); input_features, fixed 32 frames"),
    "wav2vec2": (wav2vec2, "audio", "Wav2Vec2Model; waveform + sample mask, padded frames zeroed by mask assignment"),
    "hubert": (hubert, "audio", "HubertModel; waveform + sample mask"),
    "vit": (vit, "vision", "ViTModel; 32×32, patch 8"),
    "deit": (deit, "vision", "DeiTModel; class and distillation tokens"),
    "dinov2": (dinov2, "vision", "Dinov2Model; interpolated position embeddings, layer scale"),
    "swin": (swin, "vision", "SwinModel; window attention with relative position index buffer"),
    "beit": (beit, "vision", "BeitModel; relative position bias indexed by a meshgrid-built table"),
    "segformer": (segformer, "vision", "SegformerModel; overlapping patch merges, spatial-reduction attention"),
    "convnext": (convnext, "vision", "ConvNextModel"),
    "resnet": (resnet, "vision", "ResNetModel; BatchNorm (num_batches_tracked int64 buffers)"),
    "regnet": (regnet, "vision", "RegNetModel; grouped convolutions, BatchNorm"),
    "mobilenet_v2": (mobilenet_v2, "vision", "MobileNetV2Model; BatchNorm, depth multiplier 0.25"),
    "efficientnet": (efficientnet, "vision", "EfficientNetModel; BatchNorm, squeeze-excitation"),
}


def spec(name: str) -> ModelSpec:
    """The zoo model NAME's spec (a fresh module each call)."""
    return ZOO[name][0]()


def call(s: ModelSpec) -> Any:
    """Run the model the way its users do: ``model(*args, **kwargs)``."""
    with torch.no_grad():
        return s.module(*s.args, **(s.kwargs or {}))
