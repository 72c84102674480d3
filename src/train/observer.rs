//! How a run talks back: an [`Observer`] is told of every batch and epoch ([`Event`]) and may
//! stop the run ([`Control`]).

use super::{EpochReport, TrainState};
use crate::params::Parameters;

/// What an [`Observer`] sees.
pub enum Event<'a> {
    /// A batch finished.
    Batch {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// Batches per epoch.
        batches: usize,
        /// This batch's loss.
        loss: f32,
        /// Samples processed so far in this epoch.
        samples: usize,
        /// Accuracy over this epoch's batches so far (classifiers only).
        accuracy: Option<f32>,
    },
    /// An epoch finished; the state is what a checkpoint saves.
    Epoch {
        /// The epoch's report.
        report: &'a EpochReport,
        /// The run's state after the epoch.
        state: &'a TrainState,
        /// The parameters after the epoch.
        params: &'a Parameters,
    },
}

/// An observer's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Stop after this event.
    Stop,
}

/// Watches a run: told of every batch and every epoch, and may stop it (progress bars, curves,
/// a stop button). Any `FnMut(Event) -> Control` closure is one; a front with more to keep
/// implements it on its own type (no shared `RefCell`s).
///
/// ```
/// use backprop::train::{Control, Event, Observer};
///
/// /// Counts batches and stops after the third epoch.
/// #[derive(Default)]
/// struct Count { batches: usize }
/// impl Observer for Count {
///     fn on_event(&mut self, e: Event) -> Control {
///         match e {
///             Event::Batch { .. } => { self.batches += 1; Control::Continue }
///             Event::Epoch { report, .. } if report.epoch == 3 => Control::Stop,
///             Event::Epoch { .. } => Control::Continue,
///         }
///     }
/// }
/// let mut c = Count::default();
/// assert_eq!(c.on_event(Event::Batch { epoch: 1, batch: 1, batches: 1, loss: 0.5,
///     samples: 4, accuracy: None }), Control::Continue);
/// assert_eq!(c.batches, 1);
/// ```
pub trait Observer {
    /// Called after every batch and every epoch; [`Control::Stop`] ends the run there.
    fn on_event(&mut self, event: Event) -> Control;
}

impl<F: FnMut(Event) -> Control> Observer for F {
    fn on_event(&mut self, event: Event) -> Control {
        self(event)
    }
}

/// Tells the observer, if there is one.
pub(super) fn notify(observer: &mut Option<&mut dyn Observer>, e: Event) -> Control {
    match observer {
        Some(o) => o.on_event(e),
        None => Control::Continue,
    }
}
