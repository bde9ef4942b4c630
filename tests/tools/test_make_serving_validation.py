#!/usr/bin/env python3
"""Unit tests of the batch settings tools/make_serving_validation.py takes from trtllm-bench's own rules, and of the
expert exchange it takes from TensorRT-LLM's attention-DP MoE, and of the MTP acceptance it states."""

import os
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ left in tools/

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import make_serving_validation as msv  # noqa: E402

LLAMA = {"id": "llama3-70b", "layers": 80, "hidden": 8192, "heads": 64, "kv_heads": 8, "head_dim": 128,
         "vocab": 128256, "tied_embeddings": False}
RUN = {"model": {"params_total_b": 70.6}, "parallelism": {"kv_cache_free_gpu_mem_fraction": "0.95"}}


class TrtllmBenchSettings(unittest.TestCase):
    def test_stored_elements_of_an_nvfp4_checkpoint(self):
        # Embedding and head 2 x 128,256 x 8,192 = 2.1013e9 stay one element each; the other 68.4987e9 parameters
        # are stored as 9/16 of an element each (two 4-bit values per byte, an fp8 scale per 16): 40.6318e9.
        self.assertAlmostEqual(msv.stored_elements(RUN, LLAMA, "nvfp4") / 1e9, 40.6318, places=3)
        self.assertEqual(msv.stored_elements(RUN, LLAMA, "fp8"), 70.6e9)

    def test_heuristic_on_one_b200(self):
        # KV per token 2 x 80 layers x 8 heads x 128 x 1 byte = 160 KiB; engine 40.6318e9 x 0.5 bytes = 18.92 GiB;
        # cache (180 - 18.92) x 0.95 = 153.03 GiB. At 1K/1K a request takes 2,048 x 160 KiB = 0.3125 GiB: 489.7
        # requests, rounded up to 128s: 512; tokens 489.7 x 2 = 979 -> the 2,048 floor, at least 1,024 + 512.
        self.assertEqual(msv.trtllm_bench_settings(RUN, LLAMA, "nvfp4", 1.0, 1, "b200", 1024, 1024), (512, 2048))
        # At 1K/8K: 153.03 / (9,216 x 160 KiB) = 108.8 requests, rounded up to 32s: 128; tokens 122 -> 2,048.
        self.assertEqual(msv.trtllm_bench_settings(RUN, LLAMA, "nvfp4", 1.0, 1, "b200", 1024, 8192), (128, 2048))

    def test_untuned_checkpoint_takes_the_build_defaults(self):
        # 2,048 sequences and 8,192 tokens, and without chunked prefill a whole 32K prompt beside a full batch.
        self.assertEqual(msv.trtllm_bench_settings(RUN, LLAMA, "mixed", 1.0, 1, "b200", 1024, 1024), (2048, 8192))
        self.assertEqual(msv.trtllm_bench_settings(RUN, LLAMA, "mixed", 1.0, 1, "b200", 32768, 1024), (2048, 34816))

    def test_mla_config_counts_every_head(self):
        # DeepSeek's HF config states 128 KV heads and no head_dim: 7,168 / 128 = 56, so trtllm-bench plans
        # 2 x 61 x 128 x 56 = 874,496 bytes per token (fp8), 24.9 x the 35,136 its MLA cache holds.
        deepseek = {"id": "deepseek-v3", "layers": 61, "hidden": 7168, "heads": 128, "kv_heads": 128, "head_dim": 128,
                    "vocab": 129280, "mla": {}}
        run = {"model": {"params_total_b": 671}, "parallelism": {"kv_cache_free_gpu_mem_fraction": "0.95"}}
        # 8 H200 at fp8: (141 x 8 - 671e9 / 2^30) x 0.95 = 477.9 GiB over 2,048 x 874,496 bytes = 1.668 GiB:
        # 286.5 requests -> 384; tokens 573 -> 2,048.
        self.assertEqual(msv.trtllm_bench_settings(run, deepseek, "fp8", 1.0, 8, "h200-sxm", 1024, 1024), (384, 2048))

    def test_cuda_graph_sizes_with_padding(self):
        # 1, 2, 4, then 8 to 128 in steps of 8, powers of two from 2^8 below ceil(log2 max) (384: 2^8 only, since
        # ceil(log2 384) = 9), and the maximum itself.
        multiples = [8 * i for i in range(1, 17)]
        self.assertEqual(msv.trtllm_graph_batch_sizes(384), [1, 2, 4] + multiples + [256, 384])
        self.assertEqual(msv.trtllm_graph_batch_sizes(2048), [1, 2, 4] + multiples + [256, 512, 1024, 2048])
        self.assertEqual(msv.trtllm_graph_batch_sizes(64), [1, 2, 4] + multiples[:8])
        self.assertEqual(msv.trtllm_graph_batch_sizes(1), [1])
        self.assertEqual(msv.trtllm_graph_batch_sizes(100), [1, 2, 4] + multiples[:12] + [100])


class AttentionDpExchange(unittest.TestCase):
    def run_of(self, precision, notes=""):
        return {"parallelism": {"precision": precision}, "notes": notes}

    def test_hopper_gathers_in_bf16_for_block_scaled_fp8_and_weight_only_mxfp4(self):
        assumed = []
        self.assertEqual(msv.attention_dp_exchange(self.run_of("FP8 (deepseek-ai/DeepSeek-R1)"), "h200-sxm", "fp8",
                                                   assumed),
                         {"moe_dispatch": "allgather", "moe_dispatch_type": "bf16"})
        self.assertEqual(msv.attention_dp_exchange(self.run_of("FP8 (nvidia/Qwen3-235B-A22B-FP8)"), "h100-sxm", "fp8",
                                                   assumed),
                         {"moe_dispatch": "allgather"})
        self.assertEqual(len(assumed), 2)

    def test_blackwell_gathers_only_before_the_x86_all_to_all(self):
        # The DeepSeek-R1 blog's commit predates MnnvlMemory on x86: NVFP4 gathered after routing; a run that names
        # no such commit keeps the NVLink all-to-all.
        assumed = []
        self.assertEqual(msv.attention_dp_exchange(self.run_of("NVFP4", "TRT-LLM commit b6261862."), "b200", "nvfp4",
                                                   assumed),
                         {"moe_dispatch": "allgather", "moe_dispatch_type": "nvfp4"})
        self.assertIn("b6261862", assumed[0])
        self.assertEqual(msv.attention_dp_exchange(self.run_of("NVFP4", "late 2025"), "b200", "nvfp4", assumed), {})
        self.assertEqual(len(assumed), 1)


class MtpAcceptance(unittest.TestCase):
    def run_of(self, engine, drafts, catalog_id="deepseek-v3"):
        return {"parallelism": {"speculative": f"MTP, {drafts} next-n", "engine": engine}, "source": {"title": ""},
                "model": {"catalog_id": catalog_id}}

    def test_chain_reproduces_the_measured_tokens_per_step(self):
        # Three drafts at 0.7701: 1 + 0.7701 + 0.7701^2 + 0.7701^3 = 1 + 0.7701 + 0.5931 + 0.4567 = 2.820,
        # TensorRT-LLM's 2.82; one draft at 0.92 gives 1.92.
        self.assertAlmostEqual(msv.chain_acceptance(3, 2.82), 0.7701, places=4)
        self.assertAlmostEqual(msv.chain_acceptance(1, 1.92), 0.92, places=4)

    def test_deepseek_on_tensorrt_llm_takes_its_measurement_else_the_report(self):
        spec, assumed = msv.mtp(self.run_of("TensorRT-LLM PyTorch backend (trtllm-bench)", 3))
        self.assertEqual(spec, {"draft_tokens": 3, "acceptance_rate": 0.7701})
        self.assertIn("2.82 tokens per step", assumed[0])
        # Another engine, another model or more drafts than TensorRT-LLM measured keep the DeepSeek-V3 report's 0.85.
        self.assertEqual(msv.mtp(self.run_of("SGLang", 3))[0]["acceptance_rate"], msv.MTP_ACCEPTANCE)
        self.assertEqual(msv.mtp(self.run_of("TensorRT-LLM", 7))[0]["acceptance_rate"], msv.MTP_ACCEPTANCE)
        self.assertEqual(msv.mtp(self.run_of("TensorRT-LLM", 3, "kimi-k2"))[0]["acceptance_rate"], msv.MTP_ACCEPTANCE)
        self.assertEqual(msv.mtp({"parallelism": {}, "source": {"title": "x"}, "model": {}}), (None, []))


if __name__ == "__main__":
    unittest.main()
