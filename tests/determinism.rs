//! Matrix products give the same bits on 1 and 2 threads: threads split the output, never a sum.
//! (Its own test binary, because the thread count is process-wide.)

use backprop::{set_num_threads, Graph, Parameters, Rng, Tape, Tensor};

fn step(params: &Parameters, x: &Tensor) -> Vec<Vec<u32>> {
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, params);
    let xv = g.input(x);
    let ids: Vec<_> = params.ids().collect();
    let (w, b) = (g.param(ids[0]), g.param(ids[1]));
    let h = g.linear(xv, w, Some(b));
    let h = g.relu(h);
    let l = g.sum(h);
    let grads = g.backward(l);
    ids.iter()
        .map(|&id| {
            grads
                .get(id)
                .unwrap()
                .data()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        })
        .collect()
}

#[test]
fn one_and_two_threads_give_identical_bits() {
    let mut rng = Rng::seed(5);
    let mut params = Parameters::new();
    params.add("w", Tensor::randn([256, 784], 0.0, 0.05, &mut rng));
    params.add("b", Tensor::randn([256], 0.0, 0.05, &mut rng));
    let x = Tensor::rand_uniform([512, 784], 0.0, 1.0, &mut rng);
    set_num_threads(1);
    let one = step(&params, &x);
    set_num_threads(2);
    let two = step(&params, &x);
    set_num_threads(0);
    assert!(one == two, "gradients differ between 1 and 2 threads");
}
