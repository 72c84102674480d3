//! `backprop train`: data → split → scale → network → fit → model file (+ checkpoints).

use crate::args::TrainArgs;
use crate::data::{load, Source};
use crate::progress::Reporter;
use anyhow::{bail, Context, Result};
use backprop::data::{split, Dataset, ScaleKind, Scaler, SplitSizes, Targets};
use backprop::io::{Checkpoint, Model, TaskInfo};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::optim::OptimizerConfig;
use backprop::train::{
    evaluate, fit_from, Control, EarlyStopping, Event, Metrics, TrainConfig, TrainState,
};
use backprop::{Error, Loss, Parameters, Rng};
use std::path::PathBuf;
use std::time::Instant;

pub fn run(a: &TrainArgs) -> Result<()> {
    let started = Instant::now();
    backprop::set_num_threads(a.threads);
    let src = Source::parse(a.data.as_deref());
    let resumed = a.resume.as_ref().map(Checkpoint::load).transpose()?;
    let data = load(&src, &a.data_args, false)?;
    let seed = resumed.as_ref().map_or(a.seed, |c| c.model.meta.seed);

    // splits: seeded and stratified; MNIST brings its own test set
    let mut rng = Rng::seed(seed);
    let (val_f, test_f) = (
        a.val_split,
        if matches!(src, Source::Mnist(_)) {
            0.0
        } else {
            a.test_split
        },
    );
    if !(0.0..1.0).contains(&val_f) || !(0.0..1.0).contains(&test_f) || val_f + test_f >= 1.0 {
        bail!("--val-split {val_f} and --test-split {test_f} must be fractions in [0, 1) that leave data to train on");
    }
    let (mut train, mut val, mut test) = split(
        &data,
        SplitSizes::Fractions {
            val: val_f,
            test: test_f,
        },
        &mut rng,
    )?;
    if let Source::Mnist(_) = src {
        test = load(&src, &a.data_args, true)?;
    }

    let (meta, params, opt_cfg, cfg, state, opt_state, lr) = match resumed {
        Some(c) => {
            if c.model.meta.architecture.in_features != data.n_features() {
                bail!(
                    "the checkpoint's network takes {} features but the data has {}",
                    c.model.meta.architecture.in_features,
                    data.n_features()
                );
            }
            (
                c.model.meta,
                c.model.params,
                c.optimizer,
                c.config,
                c.state,
                Some(c.optimizer_state),
                Some(c.lr),
            )
        }
        None => {
            let (meta, params, opt_cfg, cfg) = fresh(a, &train, &data, seed, &mut rng)?;
            (
                meta,
                params,
                opt_cfg,
                cfg,
                TrainState::new(seed),
                None,
                None,
            )
        }
    };
    let mut params = params;
    for d in [&mut train, &mut val, &mut test] {
        meta.scaler.transform(d);
    }
    let net = Mlp::from_params(meta.architecture.clone(), &params)?;
    let out = meta.architecture.out_features();
    let mut opt = opt_cfg.build()?;
    if let Some(s) = &opt_state {
        opt.load_state(s)?;
    }
    if let Some(lr) = lr {
        opt.set_lr(lr);
    }

    let ckpt_path = a
        .checkpoint
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.ckpt", a.out.display())));
    let mut reporter = Reporter::new(a.quiet, a.json, cfg.epochs, train.len());
    if !a.quiet {
        eprintln!(
            "training on {}: {} train / {} validation / {} test samples, {} features; {}",
            src.describe(),
            train.len(),
            val.len(),
            test.len(),
            data.n_features(),
            describe_net(&meta.architecture, &params)
        );
    }
    let mut ckpt_error = None;
    let mut last_state = None;
    let mut callback = |e: Event| -> Control {
        reporter.event(&e);
        if let Event::Epoch {
            report,
            state,
            params,
            optimizer,
        } = e
        {
            last_state = Some((
                state.clone(),
                params.clone(),
                optimizer.state(),
                optimizer.lr(),
            ));
            if a.checkpoint_every
                .is_some_and(|n| n > 0 && report.epoch % n == 0)
            {
                let c = checkpoint(
                    &meta,
                    params,
                    &opt_cfg,
                    optimizer.state(),
                    optimizer.lr(),
                    &cfg,
                    state,
                );
                if let Err(err) = c.and_then(|c| Ok(c.save(&ckpt_path)?)) {
                    ckpt_error = Some(err);
                    return Control::Stop;
                }
            }
        }
        Control::Continue
    };
    let val_ref = (!val.is_empty()).then_some(&val);
    let result = fit_from(
        state,
        &net,
        &mut params,
        out,
        &mut *opt,
        &train,
        val_ref,
        &cfg,
        &mut callback,
    );
    reporter.finish();
    if let Some(err) = ckpt_error {
        return Err(err.context(format!("writing checkpoint {}", ckpt_path.display())));
    }
    let model = Model { meta, net, params };
    let history = match result {
        Ok(h) => h,
        Err(e @ Error::NonFiniteLoss { .. }) => {
            model.save(&a.out)?;
            bail!("{e}; saved them to {}", a.out.display());
        }
        Err(e) => return Err(e.into()),
    };
    if a.checkpoint_every.is_some() {
        if let Some((state, p, s, lr)) = &last_state {
            checkpoint(&model.meta, p, &opt_cfg, s.clone(), *lr, &cfg, state)?.save(&ckpt_path)?;
        }
    }
    model
        .save(&a.out)
        .with_context(|| format!("saving the model to {}", a.out.display()))?;
    if let Some(path) = &a.history {
        crate::progress::write_history(path, &history.epochs)?;
    }
    if let Some(path) = &a.plot {
        crate::plot::write_svg(path, &history.epochs)
            .with_context(|| format!("drawing {}", path.display()))?;
    }
    let test_m = if test.is_empty() {
        None
    } else {
        Some(evaluate(
            &model.net,
            &model.params,
            model.meta.loss,
            &test,
            out,
        )?)
    };
    if !a.quiet {
        summary(&history, test_m.as_ref(), started, &a.out);
    }
    Ok(())
}

type Fresh = (
    backprop::io::ModelMeta,
    Parameters,
    OptimizerConfig,
    TrainConfig,
);

fn fresh(
    a: &TrainArgs,
    train: &Dataset,
    data: &Dataset,
    seed: u64,
    rng: &mut Rng,
) -> Result<Fresh> {
    let hidden_act: Activation = a.activation.parse().map_err(anyhow::Error::msg)?;
    let classes = data.num_classes();
    let loss: Loss = match &a.loss {
        Some(l) => l.parse().map_err(anyhow::Error::msg)?,
        None if classes.is_some() => Loss::CrossEntropy,
        None => Loss::Mse,
    };
    let out = match (classes, loss) {
        (Some(_), Loss::BceWithLogits) if classes == Some(2) => 1,
        (Some(k), Loss::BceWithLogits) => bail!("--loss bce needs two classes, the data has {k}"),
        (Some(k), _) => k,
        (None, l) if l.takes_classes() => bail!(
            "--loss {l} needs class labels, but the target is numeric (try --task classification)"
        ),
        (None, _) => data.target_width(),
    };
    let out_act: Activation = match &a.output_activation {
        Some(s) => s.parse().map_err(anyhow::Error::msg)?,
        None => Activation::Identity,
    };
    let hidden: Vec<usize> = if a.hidden == "none" || a.hidden.is_empty() {
        vec![]
    } else {
        a.hidden
            .split(',')
            .map(|h| h.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<_>>()
            .with_context(|| {
                format!(
                    "--hidden {:?}: expected comma-separated positive layer sizes, like 64,32",
                    a.hidden
                )
            })?
    };
    let mut spec = MlpSpec::new(data.n_features());
    for &h in &hidden {
        spec = spec.layer(h, hidden_act).dropout(a.dropout);
    }
    spec = spec.layer(out, out_act);
    let init = match &a.init {
        Some(s) => parse_init(s)?,
        None if matches!(hidden_act, Activation::Relu | Activation::LeakyRelu(_)) => {
            Init::KaimingUniform
        }
        None => Init::XavierUniform,
    };
    let scale = match a.scale.as_str() {
        "standard" => ScaleKind::Standard,
        "minmax" => ScaleKind::MinMax,
        "none" => ScaleKind::None,
        s => bail!("--scale {s:?}: expected standard, minmax or none"),
    };
    let scaler = Scaler::fit(scale, train);
    let task = match data.targets() {
        Targets::Classes { names, .. } => TaskInfo::Classification {
            classes: names.clone(),
        },
        Targets::Values { names, .. } => TaskInfo::Regression {
            targets: names.clone(),
        },
    };
    let mut params = Parameters::new();
    Mlp::new(spec.clone(), &mut params, init, rng)?;
    let meta = Model::meta(
        spec,
        loss,
        task,
        data.feature_names.clone(),
        scaler,
        init,
        seed,
    );

    let mut opt = OptimizerConfig::default_for(&a.optimizer, a.lr)?;
    if let Some(m) = a.momentum {
        opt = opt.with_momentum(m);
    }
    if let Some(w) = a.weight_decay {
        opt = opt.with_weight_decay(w);
    }
    opt = opt.with_nesterov(a.nesterov);
    let mut cfg = TrainConfig::new(loss);
    cfg.epochs = a.epochs;
    cfg.batch_size = match a.batch_size.as_str() {
        "full" => 0,
        s => s
            .parse()
            .with_context(|| format!("--batch-size {s:?}: expected a number or `full`"))?,
    };
    cfg.seed = seed;
    cfg.early_stopping =
        (a.early_stopping > 0 && a.val_split > 0.0).then(|| EarlyStopping::new(a.early_stopping));
    cfg.target_loss = a.target_loss;
    cfg.clip_grad_norm = a.clip_norm;
    Ok((meta, params, opt, cfg))
}

fn parse_init(s: &str) -> Result<Init> {
    Ok(match s {
        "pytorch" | "default" => Init::PyTorch,
        "xavier_uniform" | "glorot_uniform" => Init::XavierUniform,
        "xavier_normal" | "glorot_normal" => Init::XavierNormal,
        "kaiming_uniform" | "he_uniform" => Init::KaimingUniform,
        "kaiming_normal" | "he_normal" => Init::KaimingNormal,
        "zeros" => Init::Zeros,
        _ => match s.strip_prefix("uniform:").map(str::parse::<f32>) {
            Some(Ok(e)) if e > 0.0 => Init::Uniform(e),
            _ => bail!("--init {s:?}: expected pytorch, xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal, zeros or uniform:EPS"),
        },
    })
}

fn checkpoint(
    meta: &backprop::io::ModelMeta,
    params: &Parameters,
    opt: &OptimizerConfig,
    opt_state: Vec<(String, backprop::Tensor)>,
    lr: f32,
    cfg: &TrainConfig,
    state: &TrainState,
) -> Result<Checkpoint> {
    let net = Mlp::from_params(meta.architecture.clone(), params)?;
    Ok(Checkpoint {
        model: Model {
            meta: meta.clone(),
            net,
            params: params.clone(),
        },
        optimizer: opt.clone(),
        optimizer_state: opt_state,
        lr,
        config: cfg.clone(),
        state: state.clone(),
    })
}

fn describe_net(spec: &MlpSpec, params: &Parameters) -> String {
    let mut sizes = vec![spec.in_features.to_string()];
    sizes.extend(
        spec.layers
            .iter()
            .map(|l| format!("{}({})", l.out_features, l.activation)),
    );
    format!(
        "network {} with {} parameters",
        sizes.join("-"),
        params.numel()
    )
}

fn fmt_metrics(m: &Metrics) -> String {
    let mut s = format!("loss {:.4}", m.loss);
    if let Some(a) = m.accuracy {
        s += &format!(", accuracy {:.2} %", 100.0 * a);
    }
    if let (Some(mse), Some(mae), Some(r2)) = (m.mse, m.mae, m.r2) {
        s += &format!(", MSE {mse:.4}, MAE {mae:.4}, R² {r2:.4}");
    }
    s
}

fn summary(
    h: &backprop::train::History,
    test: Option<&Metrics>,
    started: Instant,
    out: &std::path::Path,
) {
    let Some(last) = h.epochs.last() else { return };
    eprintln!(
        "stopped after {} epochs ({:?}); best epoch {}",
        last.epoch,
        h.stop,
        h.best_epoch.unwrap_or(last.epoch)
    );
    eprintln!("  train:      {}", fmt_metrics(&last.train));
    if let Some(v) = &last.val {
        eprintln!("  validation: {}", fmt_metrics(v));
    }
    if let Some(t) = test {
        eprintln!("  held-out test: {}", fmt_metrics(t));
    }
    eprintln!(
        "  time {:.1} s; model written to {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
}
