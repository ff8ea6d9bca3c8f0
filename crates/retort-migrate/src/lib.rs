mod split; pub use split::*;
