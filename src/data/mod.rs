//! Datasets: reading data files into memory.
