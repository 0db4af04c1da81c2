/** torchvision's ResNet-18 and ResNet-50 from libtorch modules; the twin is resnet.py. */
package resnet;
