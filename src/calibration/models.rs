//! The cost models a step table needs: one per tensor parallelism its rows
//! name (the `tensor_parallel_size` column), all built from one config, so
//! measured multi-GPU steps are priced by the simulator's own formula for
//! that many GPUs (the fitted parameters stay per GPU).

use super::Step;
use crate::config::ServerConfig;
use crate::engine::cost::{BatchShape, CostModel};

/// The config's cost model and one per other tensor parallelism of a table.
#[derive(Debug, Clone)]
pub struct StepModels {
    /// The config's own model (its `deployment.tensor_parallel_size`).
    base: CostModel,
    /// Models of the other tensor parallelisms named by the steps (never
    /// the config's own).
    others: Vec<(u64, CostModel)>,
}

impl StepModels {
    /// The models `steps` need under `server`.
    pub fn new(server: &ServerConfig, steps: &[Step]) -> Self {
        let base_tp = server.deployment.tensor_parallel_size;
        let mut others: Vec<(u64, CostModel)> = Vec::new();
        for t in steps.iter().filter_map(|s| s.tensor_parallel_size) {
            if t != base_tp && !others.iter().any(|(o, _)| *o == t) {
                let mut config = server.clone();
                config.deployment.tensor_parallel_size = t;
                others.push((t, CostModel::new(&config)));
            }
        }
        Self {
            base: CostModel::new(server),
            others,
        }
    }

    /// The config's own model: the one whose hardware constants and
    /// calibration every model shares (fits run on it).
    pub fn base(&self) -> &CostModel {
        &self.base
    }

    /// The model of the replica that ran `step`.
    pub fn of(&self, step: &Step) -> &CostModel {
        step.tensor_parallel_size
            .and_then(|t| self.others.iter().find(|(o, _)| *o == t))
            .map_or(&self.base, |(_, m)| m)
    }

    /// `step`'s batch as its replica's model sees it.
    pub fn shape(&self, step: &Step) -> BatchShape {
        step.shape(self.of(step).window())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::parse_steps;
    use crate::config::Config;

    const CONFIG: &str = "[hardware]\npreset='h100'\n[model]\npreset='llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens=8192\nmax_num_seqs=8\n[workload]\narrival_pattern='poisson'\narrival_rate=1.0\nnum_requests=1\ninput_len_dist={type='fixed',value=1}\noutput_len_dist={type='fixed',value=1}\n";

    fn server(tp: u64) -> ServerConfig {
        let text = format!("[deployment]\ntensor_parallel_size={tp}\n{CONFIG}");
        Config::from_toml_str(&text, "t").unwrap().server
    }

    #[test]
    fn each_row_is_priced_at_its_own_tensor_parallelism() {
        let table = parse_steps(
            "kind,num_seqs,new_tokens_per_seq,context_tokens,prefill_chunk_tokens,tensor_parallel_size\ndecode,32,1,1024,0,1\ndecode,32,1,1024,0,2\ndecode,32,1,1024,0,4\n",
            "t",
        )
        .unwrap();
        let models = StepModels::new(&server(1), &table.steps);
        for (step, tp) in table.steps.iter().zip([1, 2, 4]) {
            let alone = CostModel::new(&server(tp));
            let shape = models.shape(step);
            assert_eq!(
                models.of(step).step_cost(&shape),
                alone.step_cost(&shape),
                "tp {tp}"
            );
        }
        let priced: Vec<f64> = table
            .steps
            .iter()
            .map(|s| models.of(s).step_cost(&models.shape(s)).secs)
            .collect();
        assert!(
            priced[0] != priced[1] && priced[1] != priced[2],
            "{priced:?}"
        );
    }

    #[test]
    fn without_the_column_every_row_runs_at_the_configs_parallelism() {
        let table = parse_steps(
            "kind,num_seqs,new_tokens_per_seq,context_tokens,prefill_chunk_tokens\ndecode,32,1,1024,0\n",
            "t",
        )
        .unwrap();
        let models = StepModels::new(&server(2), &table.steps);
        let step = &table.steps[0];
        assert_eq!(
            models.of(step).step_cost(&models.shape(step)),
            CostModel::new(&server(2)).step_cost(&step.shape(0))
        );
    }
}
