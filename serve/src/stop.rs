//! Stopping a query for real. Aborting a query's task is not enough: DataFusion runs parts of a
//! plan in tasks of their own, and an operator whose input is always ready (a cross join
//! producing rows from a batch it holds) never yields, so an abort is never observed. Instead,
//! every node of every plan of the query is wrapped ([`StopRule`], the last physical optimizer
//! rule of the query's session) in a node whose stream checks the query's stop flag before each
//! batch: once the flag is set, every operator's next pull fails, and every task of the query
//! ends within one batch.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, RecordBatchStream,
    SendableRecordBatchStream,
};
use futures::Stream;

/// Sets the flag when dropped: a query's request that ends, times out or is dropped stops it.
pub(crate) struct StopOnDrop(pub Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The physical optimizer rule wrapping every node in a [`Stoppable`].
#[derive(Debug)]
pub(crate) struct StopRule(pub Arc<AtomicBool>);

impl PhysicalOptimizerRule for StopRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let any: &dyn std::any::Any = node.as_ref();
            if any.is::<Stoppable>() {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(Arc::new(Stoppable {
                input: node,
                flag: self.0.clone(),
            }) as Arc<dyn ExecutionPlan>))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "mxpipe_stoppable"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A node passing its input's batches through until the query's flag is set.
#[derive(Debug)]
struct Stoppable {
    input: Arc<dyn ExecutionPlan>,
    flag: Arc<AtomicBool>,
}

impl DisplayAs for Stoppable {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "Stoppable")
    }
}

impl ExecutionPlan for Stoppable {
    fn name(&self) -> &str {
        "Stoppable"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = children
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Internal("Stoppable needs one child".into()))?;
        Ok(Arc::new(Stoppable {
            input,
            flag: self.flag.clone(),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(StopStream {
            inner: self.input.execute(partition, context)?,
            flag: self.flag.clone(),
            done: false,
        }))
    }
}

struct StopStream {
    inner: SendableRecordBatchStream,
    flag: Arc<AtomicBool>,
    done: bool,
}

impl Stream for StopStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.flag.load(Ordering::Relaxed) {
            self.done = true;
            return Poll::Ready(Some(Err(DataFusionError::Execution(
                "the query was stopped".into(),
            ))));
        }
        self.inner.as_mut().poll_next(cx)
    }
}

impl RecordBatchStream for StopStream {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}
