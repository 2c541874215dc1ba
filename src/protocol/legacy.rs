//! Legacy reactive protocol models (provider generates keys).
