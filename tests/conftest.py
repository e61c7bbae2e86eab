import jax

# Two CPU devices, so every engine test also exercises sharding of the path axis.
try:
    jax.config.update("jax_num_cpu_devices", 2)
except RuntimeError:
    pass
