#!/usr/bin/env python3
"""Unit tests of the rules tools/make_validation_scenarios.py applies where a publication leaves something out."""

import os
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ left in tools/

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import make_validation_scenarios as mvs  # noqa: E402


def run(layers=96, pp=6, vpp=None, overlap="--overlap-grad-reduce, PP overlap default", network=None):
    return {
        "id": "test-run",
        "model": {"layers": layers},
        "hardware": {"inter_node_network": network},
        "parallelism": {"pp": pp, "virtual_pipeline_stages": vpp, "comm_overlap": overlap},
    }


def scenario(layers=96, pp=6, vpp=1):
    return {"model": {"layers": layers}, "cluster": {"chip": "h100-sxm", "chips": 96},
            "parallelism": {"pp": pp, "vpp": vpp, "schedule": "interleaved" if vpp > 1 else "1f1b"}}


class PublicationFlopCount(unittest.TestCase):
    def megatron2021(self, tflops=137):
        return {"id": "megatron2021-gpt-1.7B", "hardware": {"num_chips": 32},
                "model": {"layers": 24, "hidden_size": 2304, "vocab_size": 51200, "sequence_length": 2048},
                "parallelism": {"global_batch_size_sequences": 512},
                "measured": {"step_time_s": None, "tokens_per_s_per_chip": None, "tflops_per_chip": tflops}}

    def test_megatron2021_rate_becomes_the_step_time_of_its_own_count(self):
        # Eq. (3): 96 x 512 x 2048 x 24 x 2304^2 x (1 + 2048 / 13824 + 51200 / (16 x 24 x 2304))
        # = 1.28247e16 x 1.206019 = 1.54668e16 FLOP per iteration, at 137e12 FLOP/s on each of 32 GPUs: 3.528 s.
        assumed = []
        metric, value = mvs.pick_metric(self.megatron2021(), assumed)
        self.assertEqual(metric, "step_time_s")
        self.assertAlmostEqual(value, 3.528, places=3)
        self.assertIn("eq. (3)", assumed[0])
        # Twice the rate, half the time.
        self.assertAlmostEqual(mvs.pick_metric(self.megatron2021(274), [])[1], 3.528 / 2, places=3)

    def test_other_sources_keep_their_rate(self):
        run = self.megatron2021()
        run["id"] = "mcore-h100-weak-7.1B"
        self.assertEqual(mvs.pick_metric(run, [])[0], "model_tflops_per_chip")


class TensorParallelBackward(unittest.TestCase):
    def test_trainers_whose_backward_collectives_block(self):
        # PyTorch's TP, Megatron-LM of 2021 and the trainers built on it block on every backward collective; the
        # Megatron-LM of 2022 on, Megatron-Core and its descendants overlap the column-parallel layers' ones.
        for run_id, blocks in (("megatron2021-gpt-1.7B", True), ("torchtitan-h100-x", True), ("bloom-176B", True),
                               ("opt-175B", True), ("korthikanti2022-22B", False), ("mcore-h100-weak-7.1B", False),
                               ("megascale2024-megatronlm-175b", False), ("mindspeed2410-x", False)):
            record = {"id": run_id, "model": {}, "parallelism": {"tp": 8, "pp": 1, "dp": 4}}
            plan = mvs.build_parallelism(record)
            self.assertEqual(plan.get("tp_async_backward", True), not blocks, run_id)


class LayersPerVirtualStage(unittest.TestCase):
    def test_median_of_the_runs_that_publish_vpp(self):
        # 96 / (8 x 12) = 1, 80 / (4 x 5) = 4, 96 / (8 x 6) = 2: the median is 2; runs without vpp do not count.
        runs = [run(96, 8, 12), run(80, 4, 5), run(96, 8, 6), run(96, 6, None), run(48, 1, 1)]
        self.assertEqual(mvs.layers_per_virtual_stage(runs), 2)

    def test_even_count_averages_the_middle_two(self):
        self.assertEqual(mvs.layers_per_virtual_stage([run(96, 8, 12), run(80, 4, 5)]), 2.5)  # (1 + 4) / 2

    def test_none_published(self):
        self.assertIsNone(mvs.layers_per_virtual_stage([run(96, 6, None)]))


class InferInterleaving(unittest.TestCase):
    def test_pipeline_overlap_stated_means_interleaved(self):
        s, assumed = scenario(96, 6), []
        mvs.infer_interleaving(s, run(96, 6), 2, assumed)
        # 96 / 6 = 16 layers per stage, 2 per virtual stage: vpp 8.
        self.assertEqual((s["parallelism"]["vpp"], s["parallelism"]["schedule"]), (8, "interleaved"))
        self.assertIn("vpp 8 (2 layers per virtual stage", assumed[0])

    def test_nearest_divisor_of_the_layers_per_stage(self):
        s, assumed = scenario(92, 4), []
        mvs.infer_interleaving(s, run(92, 4), 2, assumed)
        # 23 layers per stage: divisors 1 and 23; 1 is nearest to 2, so vpp 23.
        self.assertEqual(s["parallelism"]["vpp"], 23)
        self.assertIn("(1 layer per virtual stage", assumed[0])

    def test_left_alone(self):
        cases = [
            (scenario(96, 1), run(96, 1)),                           # no pipeline
            (scenario(96, 6), run(96, 6, overlap="--overlap-grad-reduce")),  # no pipeline overlap stated
            (scenario(96, 6), run(96, 6, vpp=1)),                     # vpp published as 1
            (scenario(96, 6, vpp=4), run(96, 6, vpp=4)),              # vpp published
            (scenario(98, 4), run(98, 4)),                            # layers do not split evenly over stages
        ]
        for s, r in cases:
            before, assumed = dict(s["parallelism"]), []
            mvs.infer_interleaving(s, r, 2, assumed)
            self.assertEqual(s["parallelism"], before)
            self.assertEqual(assumed, [])


class GradientsAfterFlush(unittest.TestCase):
    def plan(self, run_id):
        r = {"id": run_id, "model": {"moe": None},
             "parallelism": {"tp": 4, "pp": 12, "dp": 8, "micro_batch_size": 2, "activation_recompute": "full"}}
        return mvs.build_parallelism(r)

    def test_old_megatron_and_deepspeed_pipelines_reduce_after_the_flush(self):
        for run_id in ("bloom-176B-384xA100", "megatron2021-gpt-145.6B", "korthikanti2022-530B-seqsel"):
            self.assertIs(self.plan(run_id)["dp_overlap"], False, run_id)

    def test_overlapping_frameworks_keep_the_default(self):
        for run_id in ("mcore-h100-weak-70B", "nemo2407-h100-fp8-llama3-70B-64gpu", "opt-175B-992xA100"):
            self.assertNotIn("dp_overlap", self.plan(run_id), run_id)


class PipelineSends(unittest.TestCase):
    def scenario(self, schedule="interleaved", tp=8, sp=False):
        return {"parallelism": {"tp": tp, "pp": 8, "schedule": schedule, "sp": sp}}

    def test_megatron_before_p2p_overlap_blocks_in_the_interleaved_schedule(self):
        for run_id in ("korthikanti2022-175B-seqsel", "megascale2024-megatronlm-175b-3072gpu"):
            s = self.scenario()
            mvs.infer_pipeline_sends(s, {"id": run_id})
            self.assertIs(s["parallelism"]["pp_comm_overlap"], False, run_id)
        s = self.scenario(schedule="1f1b")  # blocks anyway: no key
        mvs.infer_pipeline_sends(s, {"id": "korthikanti2022-1T-seqsel"})
        self.assertNotIn("pp_comm_overlap", s["parallelism"])
        for run_id in ("megascale2024-megascale-175b-3072gpu", "mcore-h100-weak-177B", "nemo2407-h100-x"):
            s = self.scenario(sp=True)
            mvs.infer_pipeline_sends(s, {"id": run_id})
            self.assertNotIn("pp_comm_overlap", s["parallelism"], run_id)

    def test_old_megatron_and_deepspeed_split_sends_over_tp_without_sp(self):
        for run_id in ("megatron2021-gpt-145.6B", "bloom-176B-384xA100", "korthikanti2022-530B-fullrecompute"):
            s = self.scenario(schedule="1f1b")
            mvs.infer_pipeline_sends(s, {"id": run_id})
            self.assertIs(s["parallelism"].get("pp_scatter_gather"), True, run_id)
        for s, run_id in ((self.scenario(sp=True), "korthikanti2022-530B-seqsel"),  # sp splits them already
                          (self.scenario(tp=1), "megatron2021-gpt-1.7B"),
                          (self.scenario(), "mcore-h100-weak-177B")):
            mvs.infer_pipeline_sends(s, {"id": run_id})
            self.assertNotIn("pp_scatter_gather", s["parallelism"], run_id)


class Sc21Script(unittest.TestCase):
    def case(self, hidden, layers, pp):
        s = {"parallelism": {"tp": 8, "pp": pp, "vpp": 1, "schedule": "1f1b", "zero": 1, "micro_batch": 1,
                             "dp_overlap": False}, "training": {}}
        r = {"id": "megatron2021-gpt-x", "model": {"hidden_size": hidden, "layers": layers}}
        assumed = []
        mvs.infer_sc21_script(s, r, assumed)
        self.assertIs(s["training"]["gradient_accumulation_fusion"], False)  # fused only from 2022-02
        return s["parallelism"], assumed

    def test_small_models_run_pytorch_ddp_with_large_micro_batches(self):
        plan, assumed = self.case(2304, 24, 1)  # 1.7B: --micro-batch-size 16 --DDP-impl torch
        self.assertEqual((plan["micro_batch"], plan["zero"], plan["gradients"]), (16, 0, "bf16"))
        self.assertNotIn("dp_overlap", plan)
        self.assertEqual(len(assumed), 1)

    def test_large_models_interleave_with_local_ddp(self):
        plan, _ = self.case(12288, 80, 8)  # 145.6B: 5 layers per virtual stage, 80 / 8 / 5 = 2 chunks
        self.assertEqual((plan["micro_batch"], plan["vpp"], plan["schedule"]), (2, 2, "interleaved"))
        self.assertIs(plan["dp_overlap"], False)
        plan, _ = self.case(25600, 128, 64)  # 1T: no virtual stages
        self.assertEqual((plan["micro_batch"], plan["vpp"], plan["schedule"]), (1, 1, "1f1b"))

    def test_other_runs_left_alone(self):
        s = {"parallelism": {"micro_batch": 1}}
        mvs.infer_sc21_script(s, {"id": "korthikanti2022-x", "model": {"hidden_size": 12288}}, [])
        self.assertEqual(s, {"parallelism": {"micro_batch": 1}})


class RopeFusion(unittest.TestCase):
    def test_megatron_runs_of_yarn_scaled_models_apply_rope_unfused(self):
        s, assumed = {"training": {}}, []
        mvs.infer_rope_fusion(s, {"id": "mbridge2608-gb200-x", "model": {"catalog_id": "gpt-oss-120b"}}, assumed)
        self.assertIs(s["training"]["rope_fusion"], False)
        self.assertEqual(len(assumed), 1)
        for run in ({"id": "mbridge2608-gb200-x", "model": {"catalog_id": "qwen3-30b-a3b"}},
                    {"id": "torchtitan-x", "model": {"catalog_id": "gpt-oss-120b"}}):
            s = {"training": {}}
            mvs.infer_rope_fusion(s, run, [])
            self.assertEqual(s, {"training": {}})


class MegascaleBlock(unittest.TestCase):
    def test_megascale_rows_run_the_parallel_block_with_tp_overlap(self):
        s, assumed = {"model": {}, "parallelism": {"tp_comm_overlap": False}}, []
        mvs.infer_megascale_block(s, {"id": "megascale2024-megascale-175b-3072gpu"}, assumed)
        self.assertIs(s["model"]["parallel_block"], True)
        self.assertIs(s["parallelism"]["tp_comm_overlap"], True)
        self.assertEqual(len(assumed), 2)
        s = {"model": {}, "parallelism": {"tp_comm_overlap": False}}
        mvs.infer_megascale_block(s, {"id": "megascale2024-megatronlm-175b-3072gpu"}, [])
        self.assertEqual(s, {"model": {}, "parallelism": {"tp_comm_overlap": False}})


class InferMicroBatch(unittest.TestCase):
    def case(self, pp=1, overlap="--overlap-grad-reduce --overlap-param-gather", mbs=None, dp=48, batch=192):
        s = {"model": {"layers": 48}, "cluster": {"chip": "h100-sxm", "chips": 8 * pp * dp},
             "parallelism": {"tp": 8, "pp": pp, "cp": 1, "dp": dp, "micro_batch": mbs or 1},
             "training": {"global_batch": batch}}
        r = {"parallelism": {"micro_batch_size": mbs, "comm_overlap": overlap}}
        assumed = []
        mvs.infer_micro_batch(s, r, assumed)
        return s["parallelism"]["micro_batch"], assumed

    def test_gradient_overlap_without_a_pipeline_is_one_micro_batch(self):
        # 192 sequences over dp 48: 4 per replica, all in one micro-batch.
        mbs, assumed = self.case()
        self.assertEqual(mbs, 4)
        self.assertIn("one micro-batch of the 4 sequences per replica", assumed[0])

    def test_otherwise_one_sequence_noted(self):
        for kwargs in ({"pp": 2, "batch": 384}, {"overlap": None}, {"overlap": "--tp-comm-overlap"}):
            mbs, assumed = self.case(**kwargs)
            self.assertEqual((mbs, assumed), (1, ["micro-batch not published: 1 sequence"]), kwargs)

    def test_torchtitan_december_2024_pipelines_split_the_local_batch_in_pp(self):
        # TorchTitan at commit 9dec370: n_microbatches defaults to the pipeline degree. 256 sequences over dp 8 is a
        # local batch of 32, in pp 8 micro-batches of 4.
        s = {"model": {"layers": 126}, "cluster": {"chip": "h100-sxm", "chips": 512},
             "parallelism": {"tp": 8, "pp": 8, "cp": 1, "dp": 8, "micro_batch": 1}, "training": {"global_batch": 256}}
        run = {"id": "torchtitan-h100-llama31-405b-x", "parallelism": {"micro_batch_size": None}}
        assumed = []
        mvs.infer_micro_batch(s, run, assumed)
        self.assertEqual(s["parallelism"]["micro_batch"], 4)
        self.assertIn("32 sequences per replica in pp = 8 micro-batches of 4", assumed[0])
        # Its interleaved schedule: 2 stages per rank.
        s["parallelism"]["schedule"] = "interleaved"
        mvs.infer_torchtitan_stages(s, run, assumed)
        self.assertEqual(s["parallelism"]["vpp"], 2)
        # Another trainer's pipelined run keeps 1 sequence; a later TorchTitan run too (micro-batches of 1 by default).
        for other in ("mcore-h100-x", "torchtitan2506-h100-x"):
            s["parallelism"].pop("vpp", None)
            assumed = []
            mvs.infer_micro_batch(s, {"id": other, "parallelism": {"micro_batch_size": None}}, assumed)
            mvs.infer_torchtitan_stages(s, {"id": other}, assumed)
            self.assertEqual(assumed, ["micro-batch not published: 1 sequence"], other)
            self.assertNotIn("vpp", s["parallelism"], other)

    def test_published_micro_batch_kept(self):
        self.assertEqual(self.case(mbs=2), (2, []))

    def test_fsdp_without_a_pipeline_takes_the_replica_batch_in_one_pass(self):
        s = {"model": {"layers": 96}, "cluster": {"chip": "a100-sxm-80gb", "chips": 992},
             "parallelism": {"tp": 8, "pp": 1, "cp": 1, "zero": 3, "micro_batch": 1}, "training": {"global_batch": 1024}}
        assumed = []
        mvs.infer_micro_batch(s, {"parallelism": {"micro_batch_size": None}}, assumed)
        # dp = 992 / 8 = 124; 1024 // 124 = 8 sequences per replica.
        self.assertEqual(s["parallelism"]["micro_batch"], 8)
        self.assertIn("FSDP without a pipeline: the replica's 8 sequences in one pass", assumed[0])


    def test_two_stated_micro_batches_take_the_smaller(self):
        run = {"parallelism": {"micro_batch_size": 10},
               "unverified_fields": ["num_chips (256 vs 512 conflict in source)", "micro_batch_size (10 vs 1 conflict)"]}
        assumed = []
        mvs.resolve_stated_micro_batch_conflict(run, assumed)
        self.assertEqual(run["parallelism"]["micro_batch_size"], 1)
        self.assertIn("the sources state 10 and 1", assumed[0])
        # Already the smaller one, or no conflict stated: nothing changes, nothing noted.
        for fields in (["micro_batch_size (4 vs 8 conflict)"], ["activation_recompute"], None):
            run, assumed = {"parallelism": {"micro_batch_size": 4}, "unverified_fields": fields}, []
            mvs.resolve_stated_micro_batch_conflict(run, assumed)
            self.assertEqual((run["parallelism"]["micro_batch_size"], assumed), (4, []), fields)

class InferNetwork(unittest.TestCase):
    def test_omni_path_with_links_per_node(self):
        s, assumed = scenario(), []
        mvs.infer_network(s, run(network="Omni-Path (OPA), 4 links per node, dedicated NCCL subnet"), assumed)
        self.assertEqual(s["cluster"]["network"], {"fabric": "opa-100", "nics_per_node": 4})
        self.assertEqual(len(assumed), 1)

    def test_other_networks_keep_the_node_default(self):
        for text in (None, "InfiniBand HDR 200 Gb/s, 8 per node"):
            s, assumed = scenario(), []
            mvs.infer_network(s, run(network=text), assumed)
            self.assertNotIn("network", s["cluster"])
            self.assertEqual(assumed, [])


class Precision(unittest.TestCase):
    def test_record_texts(self):
        cases = {"MXFP8": "mxfp8", "NVFP4": "nvfp4", "FP8 (per-tensor, current scaling; Transformer Engine)": "fp8",
                 "Float8 (torchao) + BF16": "fp8", "mxfp8_cublas": "mxfp8", "float8 tensorwise (f8 all-gather)": "fp8",
                 "BF16": "bf16", "mixed precision FP16": "bf16", None: "bf16",
                 # the table's main figure is FP8; the MXFP8 one is in parentheses
                 "FP8 (current scaling); MXFP8 value in parentheses in the table": "fp8"}
        for text, expected in cases.items():
            self.assertEqual(mvs.precision(text), expected, text)


class Sharding(unittest.TestCase):
    def test_fsdp_texts(self):
        cases = [
            ({"fsdp": "FSDP2 over 8 GPUs", "pp": 1}, (3, True)),          # TorchTitan reshards without a pipeline
            ({"fsdp": "FSDP2 over 8 ranks", "pp": 8}, (3, False)),        # ... and keeps the weights with one
            ({"fsdp": "Megatron-FSDP (table FSDP column = 64; sharding group = #GPUs/(TP*PP))"}, (3, True)),
            ({"fsdp": "DDP / distributed optimizer (table FSDP column = 0)"}, (1, None)),
            ({"fsdp": "Megatron distributed optimizer"}, (1, None)),
            ({"fsdp": None}, (1, None)),
            ({"fsdp": None, "zero_stage": 1}, (1, None)),
        ]
        for parallelism, expected in cases:
            self.assertEqual(mvs.sharding(parallelism), expected, parallelism)


class Recompute(unittest.TestCase):
    def test_record_texts(self):
        cases = {"full": "full", "full, block, 1 layer + recompute-activation-function": "full",
                 "selective (per-op SAC)": "per_op", "selective (attention core only)": "selective",
                 "none (per the doc)": "none", None: "none"}
        for text, expected in cases.items():
            self.assertEqual(mvs.recompute_mode(text), expected, text)

    def test_torchtitan_selective_is_per_op(self):
        s, assumed = {"parallelism": {"recompute": "selective"}}, []
        mvs.infer_per_op(s, {"id": "torchtitan-h200-llama31-8b"}, assumed)
        self.assertEqual(s["parallelism"]["recompute"], "per_op")
        self.assertEqual(len(assumed), 1)
        s, assumed = {"parallelism": {"recompute": "selective"}}, []
        mvs.infer_per_op(s, {"id": "korthikanti2022-22B-seqsel"}, assumed)  # Megatron's selective stays
        self.assertEqual(s["parallelism"]["recompute"], "selective")
        self.assertEqual(assumed, [])


class SequenceParallel(unittest.TestCase):
    def scenario(self, tp, overlap):
        return {"parallelism": {"tp": tp, "sp": False, "tp_comm_overlap": overlap}}

    def test_te_overlap_and_torchtitan_tp_imply_it(self):
        for run_id, overlap in (("mbridge2511-h100-llama3-70B-64gpu", True), ("torchtitan2506-h100-llama3-70b", False)):
            s, assumed = self.scenario(8, overlap), []
            mvs.infer_sequence_parallel(s, {"id": run_id, "parallelism": {}}, assumed)
            self.assertTrue(s["parallelism"]["sp"], run_id)
            self.assertEqual(len(assumed), 1)

    def test_left_alone(self):
        cases = (("torchtitan-h100-llama31-8b", 1, {}),                          # no TP
                 ("torchtitan2506-h100-llama3-70b", 8, {"sequence_parallel": False}),  # stated
                 ("megatron2021-gpt-39B", 8, {}))                                # no overlap, not TorchTitan
        for run_id, tp, parallelism in cases:
            s, assumed = self.scenario(tp, False), []
            mvs.infer_sequence_parallel(s, {"id": run_id, "parallelism": parallelism}, assumed)
            self.assertFalse(s["parallelism"]["sp"], run_id)
            self.assertEqual(assumed, [])


class ContextParallelAlgo(unittest.TestCase):
    def test_ulysses_named_in_the_record(self):
        record = {"id": "mindspeed2410-910b-qwen2-57b-a14b-64npu", "model": {"moe": {"routed_experts": 64}},
                  "parallelism": {"tp": 1, "pp": 4, "ep": 4, "cp": 4, "context_parallel_algo": "ulysses_cp_algo"}}
        self.assertEqual(mvs.build_parallelism(record)["cp_algo"], "ulysses")
        record["parallelism"]["context_parallel_algo"] = "megatron_cp_algo (ring attention)"
        self.assertNotIn("cp_algo", mvs.build_parallelism(record))


class TensorParallelNamed(unittest.TestCase):
    def test_named_megatron_tensor_parallelism_spans_the_node(self):
        record = {"id": "opt-175B-992xA100", "source": {"title": "OPT"}, "model": {"params_total_b": 175},
                  "hardware": {"num_chips": 992, "chips_per_node": 8},
                  "parallelism": {"tp": None, "pp": 1, "fsdp": "FSDP + Megatron-LM tensor parallelism",
                                  "global_batch_size_sequences": 1024}}
        assumed = []
        filled = mvs.fill_gaps(record, [record], assumed)
        self.assertEqual(filled["parallelism"]["tp"], 8)
        self.assertIn("tensor parallelism named: the node's 8 GPUs", assumed[0])


class RecipeRecompute(unittest.TestCase):
    def run_record(self, run_id, recompute=None):
        return {"id": run_id, "model": {"catalog_id": "deepseek-v3"}, "hardware": {"chip_id": "b200"},
                "parallelism": {"activation_recompute": recompute}}

    def test_unstated_recompute_takes_the_recipe(self):
        s, assumed = {"parallelism": {"recompute": "none"}, "training": {"precision": "mxfp8"}}, []
        mvs.infer_recipe_recompute(s, self.run_record("mbridge260401-b200-deepseekv3-mxfp8-256gpu"), assumed)
        self.assertEqual(s["parallelism"]["recompute_modules"], ["mla_up_proj", "mlp"])
        self.assertEqual(s["parallelism"]["recompute"], "selective")
        self.assertEqual(len(assumed), 1)

    def test_stated_or_other_trainers_left_alone(self):
        for run_id, recompute in (("mbridge260401-b200-deepseekv3-mxfp8-256gpu", "full"),
                                  ("mcore2023-h100-gpt-175b", None)):
            s, assumed = {"parallelism": {"recompute": "auto"}, "training": {"precision": "mxfp8"}}, []
            mvs.infer_recipe_recompute(s, self.run_record(run_id, recompute), assumed)
            self.assertEqual(s["parallelism"], {"recompute": "auto"})
            self.assertEqual(assumed, [])

    def test_recipes_not_listed_recompute_nothing(self):
        s, assumed = {"parallelism": {"recompute": "auto"}, "training": {"precision": "mxfp8"}}, []
        mvs.infer_recipe_recompute(s, self.run_record("mbridge2511-b200-deepseekv3-mxfp8-256gpu"), assumed)
        self.assertEqual(s["parallelism"], {"recompute": "none"})
        self.assertIn("none, as the Megatron-Bridge performance recipe sets it", assumed[0])

    def test_still_unknown_is_picked_by_flopcast_and_noted(self):
        s, assumed = {"parallelism": {"recompute": "auto"}}, []
        mvs.note_recompute_auto(s, assumed)
        self.assertIn("the least under which the plan fits", assumed[0])
        s, assumed = {"parallelism": {"recompute": "full"}}, []
        mvs.note_recompute_auto(s, assumed)
        self.assertEqual(assumed, [])


class GradientPrecision(unittest.TestCase):
    def case(self, run_id, catalog_id="llama3-70b"):
        s, assumed = {"parallelism": {}}, []
        mvs.infer_gradient_precision(s, {"id": run_id, "model": {"catalog_id": catalog_id}}, assumed)
        return s["parallelism"], assumed

    def test_performance_scripts_reduce_in_bf16(self):
        for run_id in ("mbridge2511-h100-llama3-70b", "nemo2502-b200-fp8-gpt3-175b-512gpu"):
            plan, assumed = self.case(run_id)
            self.assertEqual(plan, {"gradients": "bf16"}, run_id)
            self.assertIn("grad_reduce_in_fp32 false", assumed[0])

    def test_launcher_config_states_gradients_and_moments(self):
        plan, assumed = self.case("nemo2407-h100-fp8-nemotron4-340B-128gpu", "nemotron4-340b")
        self.assertEqual(plan, {"gradients": "bf16", "optimizer_moments": "bf16"})
        self.assertIn("grad_sync_dtype bf16", assumed[0])

    def test_others_keep_fp32(self):
        for run_id in ("nemo2407-h100-fp8-llama3-70B-64gpu", "mcore2023-h100-gpt-175b", "torchtitan-h100-llama3-8b"):
            self.assertEqual(self.case(run_id), ({}, []), run_id)


class ExpertTensorParallel(unittest.TestCase):
    def case(self, run_id, tp, moe=True):
        s, assumed = {"parallelism": {"tp": tp}}, []
        record = {"id": run_id, "model": {"moe": {"routed_experts": 8} if moe else None}}
        mvs.infer_expert_tensor_parallel(s, record, assumed)
        return s["parallelism"].get("etp"), assumed

    def test_megatron_core_0_6_splits_experts_over_tp(self):
        etp, assumed = self.case("mindspeed2410-910b-mixtral-8x7b-seq32k-64npu", 8)
        self.assertEqual(etp, 8)
        self.assertIn("Megatron-Core 0.6", assumed[0])

    def test_recipes_with_etp_1_and_dense_models_left_alone(self):
        for args in (("mindspeed2410-910b-qwen2-57b-a14b-64npu", 1), ("mbridge2511-h100-qwen3-235B-A22B-256gpu", 2),
                     ("mindspeed2410-910b-llama2-70b", 8, False)):
            self.assertEqual(self.case(*args), (None, []), args)


class GradientAccumulation(unittest.TestCase):
    def case(self, location):
        s, assumed = {"training": {}}, []
        mvs.infer_gradient_accumulation(s, {"source": {"location": location}}, assumed)
        return s["training"].get("gradient_accumulation_fusion"), assumed

    def test_scripts_that_turn_fusion_off(self):
        fused, assumed = self.case("README.md at commit 1ea3922; parallel config from the repository example script "
                                   "examples/mcore/qwen2_moe/pretrain_qwen2_57b_a14b_4K_ptd.sh at the same commit")
        self.assertIs(fused, False)
        self.assertIn("--no-gradient-accumulation-fusion", assumed[0])

    def test_fused_scripts_and_other_sources_left_alone(self):
        for location in ("config from the linked script examples/mcore/qwen3_moe/pretrain_qwen3_30b_a3b_4K_ptd.sh",
                         "examples/mcore/mixtral/pretrain_mixtral_8x7b_ptd.sh", "Table 2", None):
            self.assertEqual(self.case(location), (None, []), location)


class ScriptDispatcher(unittest.TestCase):
    def case(self, location, ep=4):
        s, assumed = {"parallelism": {"ep": ep}}, []
        mvs.infer_script_dispatcher(s, {"source": {"location": location}}, assumed)
        return s["parallelism"].get("moe_dispatcher"), assumed

    def test_scripts_that_gather_tokens(self):
        dispatcher, assumed = self.case("parallel config from the repository example script "
                                        "examples/mcore/deepseek2/pretrain_deepseek2_60b_8k_ptd.sh at the same commit")
        self.assertEqual(dispatcher, "allgather")
        self.assertIn("--moe-token-dispatcher-type allgather", assumed[0])

    def test_other_scripts_and_no_expert_parallelism_left_alone(self):
        for location in ("config from the linked script examples/mcore/qwen3_moe/pretrain_qwen3_30b_a3b_4K_ptd.sh",
                         "examples/mcore/mixtral/pretrain_mixtral_8x7b_ptd.sh", "Table 2", None):
            self.assertEqual(self.case(location), (None, []), location)
        self.assertEqual(self.case("examples/mcore/qwen2_moe/pretrain_qwen2_57b_a14b_4K_ptd.sh", ep=1), (None, []))


class AttentionKernel(unittest.TestCase):
    def test_pytorch_native_trainers_run_flash2(self):
        s, assumed = {"training": {"flash_attention": True}}, []
        mvs.infer_attention_kernel(s, {"id": "torchao-b200-llama3-8b"}, assumed)
        self.assertEqual(s["training"]["attention_kernel"], "flash2")
        self.assertEqual(len(assumed), 1)
        s, assumed = {"training": {"flash_attention": True}}, []
        mvs.infer_attention_kernel(s, {"id": "mbridge2511-h100-llama3-8B-8gpu"}, assumed)  # Transformer Engine
        self.assertNotIn("attention_kernel", s["training"])


class CrossEntropy(unittest.TestCase):
    def test_pytorch_loss_where_it_is_not_compiled(self):
        cases = [
            ({"id": "torchtitan-h100-llama31-8b-fsdp8-compile-bf16", "notes": "torch.compile"}, "pytorch"),  # Dec 2024
            ({"id": "torchtitan-gb200-llama4-scout-fsdp256-ep16-bf16", "notes": "MXFP8"}, "pytorch"),  # no compile
            ({"id": "torchtitan-h200-llama31-8b-fsdp32-float8", "notes": "--training.compile"}, None),  # compiled
            ({"id": "mbridge2511-h100-llama3-8B-8gpu", "notes": ""}, None),  # Megatron's fused vocab-parallel loss
        ]
        for run, expected in cases:
            s = {"training": {}}
            mvs.infer_cross_entropy(s, run)
            self.assertEqual(s["training"].get("cross_entropy"), expected, run["id"])


class PeakMemory(unittest.TestCase):
    def test_torchtitan_memory_column(self):
        run = {"id": "torchtitan-h100-llama31-405b", "notes": "TPS 100; memory 82.5 GiB (max over ranks)."}
        self.assertEqual(mvs.published_peak_memory(run), 82.5)
        self.assertEqual(mvs.published_peak_memory({"id": "torchtitan-x", "notes": "Memory 77.0 GiB. seq 8192"}), 77.0)
        self.assertIsNone(mvs.published_peak_memory({"id": "torchtitan-x", "notes": "no figure"}))
        # Other sources' "GiB" figures are capacities, not measured peaks.
        self.assertIsNone(mvs.published_peak_memory({"id": "mbridge2511-x", "notes": "memory 80 GiB per GPU"}))


class ValidateOnly(unittest.TestCase):
    def test_pytorch_native_trainers_are_validated_not_fitted(self):
        for run_id in ("torchtitan-h100-llama31-8b", "torchtitan2506-h100-llama3-70b", "torchao-b200-llama3-8b"):
            self.assertIn("PyTorch-native", mvs.validate_only_reason({"id": run_id}))
        for run_id in ("mbridge2511-h100-llama3-8B-8gpu", "mindspeed2410-910b-llama2-70b", "my-cluster-run"):
            self.assertIsNone(mvs.validate_only_reason({"id": run_id}))


class Layout(unittest.TestCase):
    def test_embedding_and_loss_count_as_layers(self):
        # Llama 3.1 405B, 126 layers on pp 16 x vpp 8 = 128 virtual stages: (126 + 2) / 128 = 1 layer each, the
        # embedding alone in the first and the loss alone in the last.
        s = {"parallelism": {"pp": 16, "vpp": 8, "schedule": "interleaved"}}
        assumed = []
        mvs.infer_layout(s, {"model": {"layers": 126}}, assumed)
        self.assertEqual(s["parallelism"]["stage_layers"], [0] + [1] * 126 + [0])
        self.assertEqual(len(assumed), 1)

    def test_even_splits_and_unpicked_vpp_left_alone(self):
        for plan, layers in (({"pp": 8, "vpp": 2, "schedule": "interleaved"}, 128),
                             ({"pp": 8, "schedule": "interleaved"}, 126),       # flopcast picks vpp
                             ({"pp": 5, "vpp": 1, "schedule": "1f1b"}, 126)):   # 128 / 5 is no split either
            s = {"parallelism": dict(plan)}
            mvs.infer_layout(s, {"model": {"layers": layers}}, [])
            self.assertNotIn("stage_layers", s["parallelism"])


class RecipeLayout(unittest.TestCase):
    def test_deepseek_v3_takes_its_recipes_stage_layers(self):
        # Megatron-Bridge's DeepSeek-V3 layout at pp 8 x vpp 2: "Et*4|(t*4|)*14tmL", 4 decoder layers a virtual stage
        # and 1 with the MTP module and the loss in the last (4 x 15 + 1 = 61); at pp 8 alone 8 a stage, 5 in the last.
        record = {"id": "mbridge260401-b200-deepseekv3-mxfp8-256gpu", "model": {"catalog_id": "deepseek-v3"}}
        for (pp, vpp), counts in (((8, 2), [4] * 15 + [1]), ((8, 1), [8] * 7 + [5])):
            s = {"parallelism": {"pp": pp, "vpp": vpp}}
            assumed = []
            mvs.infer_recipe_layout(s, record, assumed)
            self.assertEqual(s["parallelism"]["stage_layers"], counts)
            self.assertEqual(sum(counts), 61)
            self.assertEqual(len(assumed), 1)

    def test_other_models_sources_and_plans_left_alone(self):
        for record, plan in (({"id": "mbridge2606-b300-qwen3-30b", "model": {"catalog_id": "qwen3-30b-a3b"}},
                              {"pp": 8, "vpp": 2}),
                             ({"id": "mindspeed2410-910b-x", "model": {"catalog_id": "deepseek-v3"}}, {"pp": 8, "vpp": 2}),
                             ({"id": "mbridge2606-b300-x", "model": {"catalog_id": "deepseek-v3"}}, {"pp": 2, "vpp": 1})):
            s = {"parallelism": dict(plan)}
            mvs.infer_recipe_layout(s, record, [])
            self.assertNotIn("stage_layers", s["parallelism"])


class RecipeOffload(unittest.TestCase):
    def test_the_recipe_layer_count_without_a_pipeline(self):
        record = {"id": "mbridge260401-gb200-llama3-70b-fp8cs-fsdp-64gpu", "model": {"catalog_id": "llama3-70b"},
                  "hardware": {"chip_id": "gb200"}}
        s, assumed = {"parallelism": {"pp": 1}}, []
        mvs.infer_recipe_offload(s, record, assumed)
        self.assertEqual(s["parallelism"]["offload_activation_layers"], 40)
        self.assertIn("cpu_offloading_num_layers 40", assumed[0])
        s, assumed = {"parallelism": {"pp": 4}}, []
        mvs.infer_recipe_offload(s, record, assumed)
        self.assertEqual((s, assumed), ({"parallelism": {"pp": 4}}, []))


class RecipeMoeComm(unittest.TestCase):
    def run_of(self, run_id, model, chip):
        return {"id": run_id, "model": {"catalog_id": model}, "hardware": {"chip_id": chip}}

    def test_overlap_and_full_iteration_graphs_from_the_recipe(self):
        s = {"parallelism": {}, "training": {}}
        assumed = []
        mvs.infer_recipe_moe_comm(s, self.run_of("mbridge260401-b200-x", "deepseek-v3", "b200"), assumed)
        self.assertTrue(s["parallelism"]["ep_comm_overlap"])
        self.assertNotIn("cuda_graphs", s["training"])
        s = {"parallelism": {}, "training": {}}
        mvs.infer_recipe_moe_comm(s, self.run_of("mbridge2608-gb200-x", "qwen3-30b-a3b", "gb200"), assumed)
        self.assertTrue(s["parallelism"]["ep_comm_overlap"])
        self.assertEqual(s["training"]["cuda_graphs"], "full_iteration")
        self.assertEqual(len(assumed), 2)

    def test_dispatcher_from_the_recipe(self):
        # 26.04.01's gpt-oss GB200 BF16 config names no flex backend: the all-to-all dispatcher; 26.08's HybridEP;
        # a run of no recipe in the table keeps the default.
        for run_id, model, chip, expected in (("mbridge260401-gb200-x", "gpt-oss-120b", "gb200", "alltoall"),
                                              ("mbridge2608-gb200-x", "gpt-oss-120b", "gb200", "hybridep"),
                                              ("mbridge260401-b200-x", "deepseek-v3", "b200", "deepep")):
            s, assumed = {"parallelism": {}}, []
            mvs.infer_recipe_dispatcher(s, self.run_of(run_id, model, chip), assumed)
            self.assertEqual(s["parallelism"]["moe_dispatcher"], expected)
            self.assertIn("token dispatcher not published", assumed[0])
        s, assumed = {"parallelism": {}}, []
        mvs.infer_recipe_dispatcher(s, self.run_of("nemo2502-b200-x", "mixtral-8x7b", "b200"), assumed)
        self.assertEqual((s, assumed), ({"parallelism": {}}, []))

    def test_other_recipes_left_alone(self):
        s = {"parallelism": {}, "training": {}}
        mvs.infer_recipe_moe_comm(s, self.run_of("mbridge260401-b200-x", "qwen3-235b-a22b", "b200"), [])
        self.assertEqual(s, {"parallelism": {}, "training": {}})


class RecipeCommOverlap(unittest.TestCase):
    def run_of(self, run_id, model, chip):
        return {"id": run_id, "model": {"catalog_id": model}, "hardware": {"chip_id": chip}}

    def scenario(self, tp, precision):
        return {"parallelism": {"tp": tp, "tp_comm_overlap": True}, "training": {"precision": precision}}

    def test_recipes_without_tp_overlap(self):
        # The Llama performance scripts turn the overlap off for NVFP4 only; the H100 Qwen3-235B config and the
        # Nemotron 3 Ultra recipe run without it; Ultra's recipe also turns gradient-accumulation fusion off.
        for run_id, model, chip, precision, overlap in (
                ("mbridge260401-gb200-x", "llama3-70b", "gb200", "nvfp4", False),
                ("mbridge260401-gb200-x", "llama3-70b", "gb200", "mxfp8", True),
                ("mbridge2511-h100-x", "qwen3-235b-a22b", "h100-sxm", "fp8", False),
                ("mbridge2606-gb200-x", "llama3-405b", "gb200", "nvfp4", False),
                ("mbridge2606-gb200-x", "llama3-405b", "gb200", "mxfp8", True)):
            s, assumed = self.scenario(4, precision), []
            mvs.infer_recipe_comm_overlap(s, self.run_of(run_id, model, chip), assumed)
            self.assertEqual(s["parallelism"]["tp_comm_overlap"], overlap)
            self.assertEqual(len(assumed), 0 if overlap else 1)
            self.assertNotIn("gradient_accumulation_fusion", s["training"])
        s, assumed = self.scenario(2, "mxfp8"), []
        mvs.infer_recipe_comm_overlap(s, self.run_of("mbridge2608-gb200-x", "nemotron3-ultra", "gb200"), assumed)
        self.assertFalse(s["parallelism"]["tp_comm_overlap"])
        self.assertFalse(s["training"]["gradient_accumulation_fusion"])
        self.assertEqual(len(assumed), 2)

    def test_no_tensor_parallelism_or_other_trainers_left_alone(self):
        for run_id, tp in (("mbridge260401-gb200-x", 1), ("nemo2504-gb200-x", 4)):
            s = self.scenario(tp, "nvfp4")
            mvs.infer_recipe_comm_overlap(s, self.run_of(run_id, "llama3-70b", "gb200"), [])
            self.assertEqual(s, self.scenario(tp, "nvfp4"))


class NemoTokenDrop(unittest.TestCase):
    def run_of(self, run_id, model):
        return {"id": run_id, "model": {"catalog_id": model}}

    def scenario(self, tp):
        return {"parallelism": {"tp": tp, "tp_comm_overlap": True}, "training": {}}

    def test_mixtral_performance_recipes_pad_to_capacity_without_tp_overlap(self):
        # MegatronTokenDropCallback's capacity factor 1 on both containers; the 8x22B's TP 2 runs without overlap.
        for run_id, tp in (("nemo2502-b200-x", 1), ("nemo2504-gb200-x", 2)):
            s, assumed = self.scenario(tp), []
            mvs.infer_nemo_token_drop(s, self.run_of(run_id, "mixtral-8x22b"), assumed)
            self.assertEqual(s["parallelism"]["moe_capacity_factor"], 1.0)
            self.assertEqual(s["parallelism"]["tp_comm_overlap"], tp == 1)
            self.assertEqual(len(assumed), 1 if tp == 1 else 2)

    def test_other_runs_left_alone(self):
        for run_id, model in (("nemo2504-gb200-x", "llama3-70b"), ("mindspeed2410-910b-x", "mixtral-8x7b"),
                              ("nemo2407-h100-x", "mixtral-8x7b")):
            s = self.scenario(2)
            mvs.infer_nemo_token_drop(s, self.run_of(run_id, model), [])
            self.assertEqual(s, self.scenario(2))


class CatalogArchitecture(unittest.TestCase):
    DSV2 = {"name": "a DeepSeek-V2 proxy", "layers": 16, "hidden_size": 5120, "attention_heads": 128,
            "kv_heads": 128, "vocab_size": 102400, "ffn_size": 12288, "attention_type": "MLA (q_lora_rank 1536)",
            "moe": {"routed_experts": 160, "top_k": 6, "shared_experts": 2, "expert_ffn_size": 1536,
                    "dense_layers": 1}}

    def test_a_truncated_known_architecture_takes_the_catalog_fields(self):
        assumed = []
        model = mvs.build_model({"model": dict(self.DSV2)}, assumed)
        self.assertEqual(model["layers"], 16)
        self.assertEqual(model["attention"], "mla")             # not MHA with a 40-wide head (5120 / 128)
        self.assertEqual(model["mla"]["qk_nope_head_dim"], 128)
        self.assertEqual(model["ffn_act"], "swiglu")
        self.assertNotIn("published", model)                   # catalog-only keys dropped
        self.assertIn("16 of its 60 layers", assumed[0])

    def test_every_stated_field_must_match(self):
        record = dict(self.DSV2, hidden_size=4096)
        self.assertIsNone(mvs.catalog_architecture({"model": record}))
        record = dict(self.DSV2, moe=dict(self.DSV2["moe"], top_k=8))
        self.assertIsNone(mvs.catalog_architecture({"model": record}))

    def test_the_full_depth_is_the_catalog_id(self):
        record = {"name": "Llama 2 70B", "layers": 80, "hidden_size": 8192, "attention_heads": 64, "kv_heads": 8,
                  "vocab_size": 32000}
        assumed = []
        self.assertEqual(mvs.build_model({"model": record}, assumed), "llama2-70b")
        self.assertIn("llama2-70b", assumed[0])

    def test_unknown_architectures_stay_inline(self):
        record = {"name": "GPT-style 1.7B", "layers": 24, "hidden_size": 2304, "attention_heads": 24}
        self.assertEqual(mvs.build_model({"model": record}, [])["hidden"], 2304)


class Chips(unittest.TestCase):
    def test_catalog_id_first(self):
        self.assertEqual(mvs.chip_id({"chip_id": "b300", "chip": "NVIDIA B300"}), "b300")
        grand_teton = "NVIDIA H100 SXM (96 GB HBM2e variant, 500 W power limit, Meta Grand Teton)"
        self.assertEqual(mvs.chip_id({"chip_id": "h100-sxm", "chip": grand_teton}), "h100-sxm-96gb")
        self.assertEqual(mvs.chip_id({"chip": "NVIDIA A100 SXM4 80GB"}), "a100-sxm-80gb")
        with self.assertRaises(mvs.Skip):
            mvs.chip_id({"chip": "a chip nobody catalogued"})


class BlockRecompute(unittest.TestCase):
    def test_the_block_method_keeps_its_layer_count(self):
        self.assertEqual(mvs.block_recompute_layers("full, block, 1 layer + recompute-activation-function"), 1)
        self.assertEqual(mvs.block_recompute_layers("full, block, 5 layers"), 5)

    def test_the_uniform_method_and_plain_full_recompute_every_layer(self):
        self.assertIsNone(mvs.block_recompute_layers("full, uniform, 1 layer per group"))
        self.assertIsNone(mvs.block_recompute_layers("full activation checkpointing"))
        self.assertIsNone(mvs.block_recompute_layers(None))


class MindSpeedScripts(unittest.TestCase):
    def run_of(self, run_id, script):
        return {"id": run_id, "source": {"location": f"MindSpeed-LLM README, config from {script} at the same commit"}}

    def plan(self, tp=8, sp=True):
        return {"parallelism": {"tp": tp, "sp": sp, "tp_comm_overlap": False}, "training": {}}

    def test_reuse_fp32_param_keeps_a_residual_master(self):
        s, assumed = self.plan(), []
        mvs.infer_script_memory(s, self.run_of("mindspeed2503-x", "examples/mcore/llama2/pretrain_llama2_13b_pack_ptd.sh"),
                                assumed)
        self.assertEqual(s["parallelism"]["master_weights"], "bf16_residual")
        s = self.plan()
        mvs.infer_script_memory(s, self.run_of("mindspeed2503-x", "examples/mcore/llama2/pretrain_llama2_7b_pack_ptd.sh"),
                                [])
        self.assertNotIn("master_weights", s["parallelism"])

    def test_the_packing_scripts_of_2025_fuse_gradient_accumulation(self):
        for script in ("examples/mcore/llama2/pretrain_llama2_7b_pack_ptd.sh",
                       "examples/mcore/llama2/pretrain_llama2_13b_pack_ptd.sh"):
            s = self.plan()
            mvs.infer_gradient_accumulation(s, self.run_of("mindspeed2503-x", script), [])
            self.assertNotIn("gradient_accumulation_fusion", s["training"], script)

    def test_scripts_without_megatron_s_data_parallel_options_run_without_them(self):
        s, assumed = self.plan(), []
        s["parallelism"]["zero"] = 1
        mvs.infer_script_data_parallel(
            s, self.run_of("mindspeed2410-x", "examples/mcore/llama2/pretrain_llama2_70b_ptd.sh"), assumed)
        self.assertEqual(s["parallelism"]["zero"], 0)  # no --use-distributed-optimizer
        self.assertIs(s["parallelism"]["dp_overlap"], False)  # no --overlap-grad-reduce
        s = self.plan()
        s["parallelism"]["zero"] = 1
        mvs.infer_script_data_parallel(
            s, self.run_of("mindspeed2410-x", "examples/mcore/qwen2_moe/pretrain_qwen2_57b_a14b_4K_ptd.sh"), [])
        self.assertEqual(s["parallelism"]["zero"], 1)
        self.assertIs(s["parallelism"]["dp_overlap"], False)
        s = self.plan()
        mvs.infer_script_data_parallel(
            s, self.run_of("mindspeed2410-x", "examples/mcore/mixtral/pretrain_mixtral_8x7b_ptd.sh"), [])
        self.assertNotIn("dp_overlap", s["parallelism"])

    def test_the_mc2_table_overlaps_tensor_parallel_collectives(self):
        s = self.plan()
        mvs.infer_mc2(s, self.run_of("mindspeed2410-910b-x", "examples/mcore/llama2/pretrain_llama2_70b_ptd.sh"), [])
        self.assertIs(s["parallelism"]["tp_comm_overlap"], True)
        for plan, run_id in ((self.plan(tp=1), "mindspeed2410-910b-x"), (self.plan(sp=False), "mindspeed2410-910b-x"),
                             (self.plan(), "mindspeed2503-910b-x")):
            mvs.infer_mc2(plan, self.run_of(run_id, "examples/x.sh"), [])
            self.assertIs(plan["parallelism"]["tp_comm_overlap"], False, run_id)


if __name__ == "__main__":
    unittest.main()
