#include "vmm/serial.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/kvm.h"

enum {
	UART_RX_TX = 0,
	UART_IER = 1,
	UART_IIR_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};
#define LCR_DLAB 0x80
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10
#define MSR_DCD_DSR_CTS 0xb0

void serial_init(struct serial *s, int vm_fd, struct console_log *log, struct event_loop *loop,
		 int in_fd)
{
	*s = (struct serial){ .vm_fd = vm_fd, .log = log, .loop = loop };
	pthread_mutex_init(&s->lock, NULL);
	s->input = (struct event_source){ serial_input, s, in_fd };
}

static uint8_t iir(const struct serial *s)
{
	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI | IIR_FIFO;
	if ((s->ier & IER_THRI) && s->thr_irq_pending)
		return IIR_THRI | IIR_FIFO;
	return IIR_NONE | IIR_FIFO;
}

/* The IRQ line follows IIR: high while an interrupt is pending. */
static void update_irq(struct serial *s)
{
	bool high = !(iir(s) & IIR_NONE);
	if (high == s->irq_high)
		return;
	struct kvm_irq_level lvl = { .irq = SERIAL_COM1_IRQ, .level = high };
	KVM_IOCTL(s->vm_fd, KVM_IRQ_LINE, &lvl);
	s->irq_high = high;
}

void serial_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = dev;
	uint8_t v = data[0];

	if (len != 1) {
		if (!is_write)
			data[0] = 0xff;
		return;
	}
	pthread_mutex_lock(&s->lock);
	bool dlab = s->lcr & LCR_DLAB;
	if (is_write) {
		switch (offset) {
		case UART_RX_TX:
			if (dlab) {
				s->dll = v;
			} else if (!(s->mcr & MCR_LOOP)) {
				console_log_write(s->log, &v, 1);
				s->thr_irq_pending = true; /* transmitted at once */
			}
			break;
		case UART_IER:
			if (dlab) {
				s->dlm = v;
			} else {
				/* Enabling THRI with the holding register
				 * empty raises it at once, as a 16550A does. */
				if ((v & IER_THRI) && !(s->ier & IER_THRI))
					s->thr_irq_pending = true;
				s->ier = v & 0x0f;
			}
			break;
		case UART_LCR: s->lcr = v; break;
		case UART_MCR: s->mcr = v; break;
		case UART_SCR: s->scr = v; break;
		default: break; /* FCR: FIFOs are always on; LSR/MSR read-only */
		}
	} else {
		switch (offset) {
		case UART_RX_TX:
			if (dlab) {
				v = s->dll;
			} else if (s->rx_count) {
				v = s->rx[s->rx_head];
				s->rx_head = (s->rx_head + 1) % sizeof(s->rx);
				s->rx_count--;
			} else {
				v = 0;
			}
			break;
		case UART_IER: v = dlab ? s->dlm : s->ier; break;
		case UART_IIR_FCR:
			v = iir(s);
			/* Reading IIR acknowledges a THRE interrupt. */
			if ((v & 0x0f) == IIR_THRI)
				s->thr_irq_pending = false;
			break;
		case UART_LCR: v = s->lcr; break;
		case UART_MCR: v = s->mcr; break;
		case UART_LSR: v = LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0); break;
		case UART_MSR: v = MSR_DCD_DSR_CTS; break;
		case UART_SCR: v = s->scr; break;
		default: v = 0xff;
		}
		data[0] = v;
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

void serial_input(struct event_source *src, uint32_t events)
{
	struct serial *s = src->ctx;
	uint8_t buf[64];

	(void)events;
	ssize_t n = read(src->fd, buf, sizeof(buf));
	if (n <= 0) {
		/* End of host input: stop watching it, or epoll reports it
		 * forever. */
		event_loop_del(s->loop, src);
		return;
	}
	pthread_mutex_lock(&s->lock);
	/* Beyond the FIFO, input is dropped, as a real UART overruns. */
	for (ssize_t i = 0; i < n && s->rx_count < sizeof(s->rx); i++) {
		s->rx[(s->rx_head + s->rx_count) % sizeof(s->rx)] = buf[i];
		s->rx_count++;
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}
