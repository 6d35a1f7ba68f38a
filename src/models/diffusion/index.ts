// Stable Diffusion components read straight from diffusers folders (one file per diffusers class).
export { UNet2DConditionModel, parseUNetConfig, buildUNetGraph, type UNetConfig, type UNetInputs, type UNetLoadOptions } from './unet_2d_condition.js';
export { AutoencoderKL, type LatentDist, type VaeLoadOptions } from './autoencoder_kl.js';
export { parseVaeConfig, buildVaeDecoderGraph, buildVaeEncoderGraph, type VaeConfig } from './vae.js';
export { timestepSinusoid } from './embeddings.js';
export { vaeOutputToImage, imageToUint8, imageToVaeInput } from './image_processor.js';
export { openDiffusersComponent, readComponentConfig, type DiffusersComponent, type ComponentOptions } from './component.js';
